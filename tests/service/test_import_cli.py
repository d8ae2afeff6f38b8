"""`recsys import-movielens` with a URL or a GroupLens name, against a local HTTP server."""

from __future__ import annotations

import io
import zipfile

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
