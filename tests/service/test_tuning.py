"""Hyperparameter search in the embedded mode (SQLite, trials on the in-process worker),
and the 4xx answers to a study that cannot run."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import create_engine, inspect

from service.core.config import get_settings
from service.db.migrate import head_revision
from service.db.session import sync_session
from service.training.fitting import evaluation_splits
from service.training.pipeline import load_ratings
from service.tuning.objective import fingerprint
from service.tuning.storage import storage_url
from tests.scenario import ADMIN, CLIENT

SMALL_MF = {
    "model_type": "matrix_factorization",
    "space": {
        "n_factors": {"type": "int", "low": 2, "high": 16, "log": True},
        "regularization": {"type": "float", "low": 0.5, "high": 20.0, "log": True},
    },
    "base_hyperparams": {"epochs": 4},
    "n_trials": 3,
}


async def wait_for_study(client, study_id: str, timeout: float = 240) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        study = (await client.get(f"/api/ml/tune/{study_id}")).json()
        if study["status"] in ("succeeded", "failed", "cancelled"):
            return study
        assert asyncio.get_running_loop().time() < deadline, f"study did not finish: {study}"
        await asyncio.sleep(0.2)


async def test_a_study_runs_its_trials_in_process_and_its_best_becomes_a_gated_version(trained_app):
    _, client = trained_app
    response = await client.post("/api/ml/tune", json=SMALL_MF, headers=ADMIN)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "running" and accepted["status_url"] == f"/api/ml/tune/{accepted['study_id']}"

    study = await wait_for_study(client, accepted["study_id"])
    assert study["status"] == "succeeded", study
    assert study["objective"] == "rmse" and study["direction"] == "minimize"  # MF's default: what it is gated on
    trials = study["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert all(t["state"] in ("complete", "pruned") for t in trials)
    # In process: this very process ran every trial.
    assert {t["worker"].rsplit(":", 1)[1] for t in trials} == {str(os.getpid())}
    complete = [t for t in trials if t["state"] == "complete"]
    assert complete and all(t["value"] == t["metrics"]["rmse"] for t in complete)
    assert all(2 <= t["params"]["n_factors"] <= 16 and 0.5 <= t["params"]["regularization"] <= 20 for t in trials)
    best = min(complete, key=lambda t: t["value"])
    assert (study["best_trial"], study["best_value"], study["best_params"]) == (best["number"], best["value"], best["params"])
    assert study["best_so_far"][-1] == best["value"]

    # The best trial became a normal training job of kind "tune" and a version the gate judged.
    job = (await client.get(f"/api/ml/training-status/{study['job_id']}")).json()
    assert job["kind"] == "tune" and job["status"] == "succeeded"
    assert job["hyperparams"]["n_factors"] == best["params"]["n_factors"] and job["hyperparams"]["epochs"] == 4
    assert study["model_version"] == job["model_version"] == study["version"]["version"]
    version = next(v for v in (await client.get("/api/ml/models")).json() if v["version"] == study["model_version"])
    assert study["version"]["gate_activated"] == version["gate_activated"] is not None
    assert study["version"]["gate_reason"] == version["gate_reason"]
    assert study["version"]["holdout_rmse"] == version["holdout_rmse"]

    listed = (await client.get("/api/ml/tune")).json()
    assert listed[0]["id"] == study["id"] and listed[0]["trials_finished"] == 3


async def test_the_validation_split_is_carved_from_the_training_part_never_the_holdout(trained_app):
    _, client = trained_app
    body = {**SMALL_MF, "n_trials": 1, "validation_folds": 2}
    study_id = (await client.post("/api/ml/tune", json=body, headers=ADMIN)).json()["study_id"]
    study = await wait_for_study(client, study_id)
    with sync_session() as session:
        holdout, inner = evaluation_splits(load_ratings(session), get_settings())
    split = study["split"]
    assert split["folds"] == study["validation_folds"] == 2
    # The objective is the mean over both folds; the first fold is evaluation_splits' own.
    (trial,) = study["trials"]
    assert trial["value"] == trial["metrics"]["rmse"]
    assert split["validation_fingerprint"] == fingerprint(inner.test)
    assert split["train_fingerprint"] == fingerprint(inner.train)
    assert split["holdout_fingerprint"] == fingerprint(holdout.test)
    assert (split["train"], split["validation"], split["holdout"]) == (len(inner.train), len(inner.test), len(holdout.test))
    pairs = lambda frame: set(zip(frame["user_id"], frame["item_id"]))
    assert not pairs(inner.test) & pairs(holdout.test) and not pairs(inner.train) & pairs(holdout.test)


async def test_optuna_keeps_its_tables_out_of_ours(trained_app, settings_env):
    _, client = trained_app
    await wait_for_study(client, (await client.post("/api/ml/tune", json={**SMALL_MF, "n_trials": 1},
                                                    headers=ADMIN)).json()["study_id"])
    ours = create_engine(get_settings().sync_database_url)
    theirs = create_engine(storage_url(get_settings()))
    try:
        our_tables, their_tables = set(inspect(ours).get_table_names()), set(inspect(theirs).get_table_names())
        assert "tuning_studies" in our_tables and not {"studies", "trials", "version_info"} & our_tables
        assert {"studies", "trials", "alembic_version"} <= their_tables
        with ours.connect() as connection:  # our Alembic's revision is still ours
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
    finally:
        ours.dispose()
        theirs.dispose()


async def test_a_cancelled_study_starts_no_more_trials(trained_app):
    _, client = trained_app
    study_id = (await client.post("/api/ml/tune", json={**SMALL_MF, "n_trials": 50}, headers=ADMIN)).json()["study_id"]
    cancelled = await client.post(f"/api/ml/tune/{study_id}/cancel", headers=ADMIN)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # The queued trial tasks drain without running: poll until none runs, then count.
    deadline = asyncio.get_running_loop().time() + 120
    while (study := (await client.get(f"/api/ml/tune/{study_id}")).json())["trials_running"]:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    assert len(study["trials"]) <= 1 and study["job_id"] is None
    again = await client.post(f"/api/ml/tune/{study_id}/cancel", headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["field"] == "study_id"


@pytest.mark.parametrize(("body", "field"), [
    ({"space": {"learning_rate": {"type": "float", "low": 0.01, "high": 0.1}}}, "space.learning_rate"),
    ({"space": {"n_factors": {"type": "int", "low": 16, "high": 4}}}, "space.n_factors.low"),
    ({"space": {"n_factors": {"type": "int", "low": 4, "high": 5000}}}, "space.n_factors.high"),
    ({"space": {"regularization": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}}, "space.regularization.low"),
    ({"space": {"solver": {"type": "categorical", "choices": ["vectorized", "magic"]}}}, "space.solver.choices[1]"),
    ({"space": {"n_factors": {"type": "integer", "low": 1, "high": 4}}}, "space.n_factors"),
    ({"space": {"n_factors": {"type": "float", "low": 2, "high": 8}}}, "space.n_factors.type"),
    ({"base_hyperparams": {"epochs": 0}}, "base_hyperparams.epochs"),
    ({"n_trials": None}, "n_trials"),
    ({"n_trials": 0}, "n_trials"),
    ({"timeout_seconds": 0.5}, "timeout_seconds"),
    ({"objective": "mae"}, "objective"),
    ({"model_type": "ease", "space": None, "objective": "rmse"}, "objective"),
    ({"model_type": "svd"}, "model_type"),
    ({"space": {"mf": {"type": "int", "low": 1, "high": 4}}, "model_type": "ensemble", "base_hyperparams": {}},
     "space.mf"),
])
async def test_a_study_that_cannot_run_is_a_422_naming_the_field(client, body, field):
    response = await client.post("/api/ml/tune", json={**SMALL_MF, **body}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field, response.json()
    assert (await client.get("/api/ml/tune")).json() == []  # nothing was stored or queued


async def test_starting_a_study_needs_the_admin_key_and_an_unknown_study_is_a_404(client):
    assert (await client.post("/api/ml/tune", json=SMALL_MF)).status_code == 401
    assert (await client.post("/api/ml/tune", json=SMALL_MF, headers=CLIENT)).status_code == 403
    missing = await client.get("/api/ml/tune/no-such-study")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "study_id"


async def test_each_type_has_a_default_space_it_accepts(client):
    spaces = {s["model_type"]: s for s in (await client.get("/api/ml/tune/spaces")).json()}
    assert set(spaces) == {"ensemble", "ease", "ials", "matrix_factorization"}
    assert spaces["matrix_factorization"]["objective"] == "rmse" and spaces["ease"]["objective"] == "ndcg@10"
    assert "mf.n_factors" in spaces["ensemble"]["space"]


async def test_recsys_tune_runs_a_study_in_process_and_reports_its_version(trained_app, capsys):
    import json

    from service.cli import main
    from service.db.models import TuningStudy

    space = json.dumps(SMALL_MF["space"])
    code = await asyncio.to_thread(main, ["tune", "matrix_factorization", "--trials", "2", "--objective", "rmse",
                                          "--space", space, "--hyperparams", '{"epochs": 3}'])
    out = capsys.readouterr().out
    assert code == 0, out
    with sync_session() as session:
        study = session.query(TuningStudy).one()
    assert study.origin == "cli" and study.status == "succeeded" and study.model_version is not None
    assert f"study {study.id} succeeded" in out and f"model version {study.model_version}" in out


def test_recsys_tune_refuses_a_bad_space_naming_the_field(settings_env, capsys):
    from service.cli import main

    code = main(["tune", "matrix_factorization", "--space", '{"n_factors": {"type": "int", "low": 9, "high": 3}}'])
    assert code == 2 and "field space.n_factors.low" in capsys.readouterr().err


def test_a_tune_schedule_beat_could_not_run_is_refused_naming_the_setting():
    from pydantic import ValidationError

    from service.core.config import Settings

    with pytest.raises(ValidationError, match="TUNE_SCHEDULE"):
        Settings(database_url="sqlite:///unused.db", tune_schedule="every tuesday")
    assert Settings(database_url="sqlite:///unused.db").tune_schedule == ""  # off by default
