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
