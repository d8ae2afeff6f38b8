"""`recsys import-movielens` with a URL or a GroupLens name, against a local HTTP server."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from service.cli import main
from service.db.models import Movie, Rating
from service.db.session import sync_session
from tests.core.test_download import Server


def ml100k_zip(ml100k_dir) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("u.data", "u.item", "u.genre"):
            archive.write(ml100k_dir / name, f"ml-100k/{name}")
    return buffer.getvalue()


def counts() -> tuple[int, int]:
    with sync_session() as session:
        return session.scalar(select(func.count()).select_from(Movie)), session.scalar(select(func.count()).select_from(Rating))


def test_import_by_url_and_by_name_from_a_mirror(settings_env, ml100k_dir, tmp_path, capsys):
    body = ml100k_zip(ml100k_dir)
    server = Server()
    server.routes["/ml-100k.zip"] = (body, len(body))
    try:
        assert main(["import-movielens", server.base + "ml-100k.zip", "--download-dir", str(tmp_path / "a")]) == 0
        assert counts() == (1682, 100_000)
        assert (tmp_path / "a" / "ml-100k.zip").read_bytes() == body

        assert main(["import-movielens", "ml-100k", "--base-url", server.base,
                     "--download-dir", str(tmp_path / "b")]) == 0
        assert counts() == (1682, 100_000)  # a re-import replaces, never duplicates
        assert server.requests == ["/ml-100k.zip", "/ml-100k.zip"]
    finally:
        server.close()
    assert "imported 1682 movies and 100000 ratings" in capsys.readouterr().out


def test_a_bad_archive_fails_with_the_apis_message_and_writes_nothing(settings_env, ml100k_dir, tmp_path, capsys):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t881250949\n2\t1\t3\t881250949\n3\t1\t99\t881250949\n")
        zf.write(ml100k_dir / "u.item", "ml-100k/u.item")
    assert main(["import-movielens", str(archive)]) == 1
    err = capsys.readouterr().err
    assert "import refused: u.data line 3: rating must be between 0.5 and 5.0, got 99.0 (field u.data:3:rating)" in err
    assert str(tmp_path) not in err
    assert counts() == (0, 0)


def test_movies_are_kept_unless_the_cli_is_told_to_overwrite(settings_env, ml100k_dir, tmp_path):
    assert main(["import-movielens", str(ml100k_dir)]) == 0
    renamed = tmp_path / "ml-100k"
    renamed.mkdir()
    (renamed / "u.data").write_text("1\t1\t5\t881250949\n")
    (renamed / "u.item").write_bytes(b"1|Renamed (1999)|x||u|" + b"|".join([b"0"] * 8 + [b"1"] + [b"0"] * 10) + b"\n")

    def title() -> str:
        with sync_session() as session:
            return session.get(Movie, 1).title

    assert main(["import-movielens", str(renamed)]) == 0
    assert title() == "Toy Story"
    assert main(["import-movielens", str(renamed), "--movies", "overwrite"]) == 0
    assert title() == "Renamed"


def _small_release(ml100k_dir, path):
    """ml-100k's catalogue with its first 20,000 ratings: enough to train on, quickly."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        lines = (ml100k_dir / "u.data").read_text().splitlines(keepends=True)[:20_000]
        archive.writestr("ml-100k/u.data", "".join(lines))
        for name in ("u.item", "u.genre"):
            archive.write(ml100k_dir / name, f"ml-100k/{name}")
    return path


def _active_version() -> int | None:
    from service.db import statements

    with sync_session() as session:
        active = session.scalars(statements.active_version()).first()
        return active.version if active else None


def test_bootstrap_decides_from_the_database_not_from_a_marker_file(
    settings_env, ml100k_dir, tmp_path, monkeypatch, capsys
):
    from service.core.config import get_settings
    from service.db.migrate import upgrade_to_head
    from service.db.session import sync_session_factory

    monkeypatch.chdir(tmp_path)  # the CLI keeps its key and downloads in ./var
    release = str(_small_release(ml100k_dir, tmp_path / "small.zip"))
    assert main(["bootstrap", release]) == 0
    assert counts() == (1682, 20_000) and _active_version() == 1
    assert main(["bootstrap", release]) == 0  # the same database: nothing to do
    out = capsys.readouterr().out
    assert "the database holds 20000 ratings: not importing" in out and "model version 1 is active: not training" in out
    assert _active_version() == 1

    # A new DATABASE_URL after an earlier run gets its own data and model.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    get_settings.cache_clear()
    sync_session_factory.cache_clear()
    upgrade_to_head(get_settings().sync_database_url)
    assert counts() == (0, 0)
    assert main(["bootstrap", release]) == 0
    assert counts() == (1682, 20_000) and _active_version() == 1
    sync_session_factory().kw["bind"].dispose()


def test_bootstrap_with_a_model_but_no_ratings_imports_and_keeps_the_model(settings_env, ml100k_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    release = str(_small_release(ml100k_dir, tmp_path / "small.zip"))
    assert main(["bootstrap", release]) == 0
    with sync_session() as session:
        session.execute(Rating.__table__.delete())
    assert main(["bootstrap", release]) == 0
    assert counts() == (1682, 20_000) and _active_version() == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", ["bootstrap", "import-movielens"])
@pytest.mark.parametrize(
    ("source", "extra", "reason"),
    [
        ("/no/such/folder", [], "/no/such/folder is neither an existing folder/zip"),
        ("ml-100k", ["--base-url", "http://127.0.0.1:{port}/"], "downloading http://127.0.0.1:{port}/ml-100k.zip failed"),
    ],
)
def test_no_dataset_and_no_network_is_one_clear_message(
    settings_env, tmp_path, monkeypatch, capsys, command, source, extra, reason
):
    monkeypatch.chdir(tmp_path)
    port = _closed_port()
    assert main([command, source, *[e.format(port=port) for e in extra]]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"import failed: {reason.format(port=port)}"), err
    assert "MOVIELENS=" in err and "Traceback" not in err
    assert len(err.splitlines()) <= 6
    assert counts() == (0, 0) and _active_version() is None
