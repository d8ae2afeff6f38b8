"""``recsys experiment``: start, list, show, stop and promote from a shell, with the API's
checks (SQLite; two ready versions written as the pipeline would, one artifact each)."""

from __future__ import annotations

import hashlib
import json

import pytest

from service.cli import main
from service.db.models import ModelArtifact, ModelVersion
from service.db.session import sync_session


@pytest.fixture
def versions(settings_env) -> list[int]:
    with sync_session() as session:
        for version in (1, 2):
            data = f"artifact {version}".encode()
            checksum = hashlib.sha256(data).hexdigest()
            session.add(ModelVersion(version=version, model_type="matrix_factorization", hyperparams={},
                                     status="ready", is_active=version == 1, artifact_checksum=checksum))
            session.flush()
            session.add(ModelArtifact(version=version, data=data, checksum=checksum))
    return [1, 2]


def _run(capsys, *argv: str) -> tuple[int, dict | list, str]:
    code = main(["experiment", *argv])
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else {}, out.err


def test_start_show_refuse_a_second_and_promote(versions, capsys):
    code, started, _ = _run(capsys, "start", "--name", "one vs two", "--arm", "control=1:0.25",
                            "--arm", "treatment=2:0.25", "--arm", "popular=popularity:0.5", "--salt", "cli")
    assert code == 0 and started["status"] == "running" and started["salt"] == "cli"
    assert [(a["name"], a["model_version"], a["fallback"]) for a in started["arms"]] == [
        ("control", 1, None), ("treatment", 2, None), ("popular", None, "popularity")]

    code, _, err = _run(capsys, "start", "--name", "second", "--arm", "a=1:0.5", "--arm", "b=2:0.5")
    assert code == 1 and "is running" in err
    code, shown, _ = _run(capsys, "show", str(started["id"]))
    assert code == 0 and [a["arm"] for a in shown["metrics"]["arms"]] == ["control", "treatment", "popular"]
    assert shown["metrics"]["arms"][0]["n_ratings"] == 0

    code, _, err = _run(capsys, "promote", str(started["id"]), "popular")
    assert code == 1 and "fallback" in err
    code, promoted, _ = _run(capsys, "promote", str(started["id"]), "treatment")
    assert code == 0 and promoted["activated_version"] == 2 and promoted["experiment"]["status"] == "promoted"
    with sync_session() as session:
        assert session.get(ModelVersion, 2).is_active and not session.get(ModelVersion, 1).is_active
    code, listed, _ = _run(capsys, "list")
    assert code == 0 and [e["status"] for e in listed] == ["promoted"]


def test_bad_arms_are_refused_naming_what_is_wrong(versions, capsys):
    code, _, err = _run(capsys, "start", "--name", "x", "--arm", "a=1:0.5", "--arm", "b=2:0.4")
    assert code == 2 and "field arms" in err and "sum to 0.9" in err
    code, _, err = _run(capsys, "start", "--name", "x", "--arm", "a=1:0.5", "--arm", "b=7:0.5")
    assert code == 2 and "arms[1].model_version" in err
    code, _, err = _run(capsys, "start", "--name", "x", "--arm", "a=1", "--arm", "b=2:0.5")
    assert code == 2 and "NAME=VERSION:SHARE" in err
    code, _, err = _run(capsys, "stop", "42")
    assert code == 2 and "experiment 42 not found" in err
