"""download_movielens against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from recsys_core.data import DownloadError, download_movielens, load_movielens


@pytest.fixture(scope="module")
def archive(ml100k_dir, tmp_path_factory) -> bytes:
    """ml-100k zipped in memory (tests only; never written into the repository)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("u.data", "u.item", "u.genre"):
            zf.write(ml100k_dir / name, f"ml-100k/{name}")
    return buf.getvalue()


class Server:
    """Serves ``routes[path] = (body, announced_length)`` and counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, int]] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if self.path not in outer.routes:
                    self.send_error(404)
                    return
                body, length = outer.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_by_name_verifies_and_renames(server, archive, tmp_path, capsys):
    server.routes["/ml-100k.zip"] = (archive, len(archive))
    digest = hashlib.sha256(archive).hexdigest()
    path = download_movielens(
        "ml-100k",
        tmp_path,
        base_url=server.base,
        expected_size=len(archive),
        expected_sha256=digest,
        chunk_size=64 * 1024,
    )
    assert path == tmp_path / "ml-100k.zip"
    assert path.read_bytes() == archive
    assert leftovers(tmp_path) == ["ml-100k.zip"]
    assert "100.0%" in capsys.readouterr().err  # text progress bar on stderr
    assert len(load_movielens(path).ratings) == 100_000


def test_download_by_url_without_progress(server, archive, tmp_path, capsys):
    server.routes["/files/ml-100k.zip"] = (archive, len(archive))
    path = download_movielens(server.base + "files/ml-100k.zip", tmp_path / "new", progress=False)
    assert path == tmp_path / "new" / "ml-100k.zip" and path.read_bytes() == archive
    assert capsys.readouterr().err == ""


def test_sha256_mismatch_leaves_no_file(server, archive, tmp_path):
    server.routes["/ml-100k.zip"] = (archive, len(archive))
    with pytest.raises(DownloadError, match="SHA-256"):
        download_movielens(
            "ml-100k", tmp_path, base_url=server.base, expected_sha256="0" * 64, progress=False
        )
    assert leftovers(tmp_path) == []


def test_truncated_response_leaves_no_file(server, archive, tmp_path):
    # announces the full length but sends only half the bytes, then closes
    server.routes["/ml-100k.zip"] = (archive[: len(archive) // 2], len(archive))
    with pytest.raises(DownloadError, match="cut short|failed"):
        download_movielens("ml-100k", tmp_path, base_url=server.base, progress=False)
    assert leftovers(tmp_path) == []


def test_expected_size_mismatch_leaves_no_file(server, archive, tmp_path):
    server.routes["/ml-100k.zip"] = (archive, len(archive))
    with pytest.raises(DownloadError, match="expected 123"):
        download_movielens(
            "ml-100k", tmp_path, base_url=server.base, expected_size=123, progress=False
        )
    assert leftovers(tmp_path) == []


def test_not_a_zip_leaves_no_file(server, tmp_path):
    body = b"<html>not found, but 200</html>"
    server.routes["/ml-100k.zip"] = (body, len(body))
    with pytest.raises(DownloadError, match="not a readable zip"):
        download_movielens("ml-100k", tmp_path, base_url=server.base, progress=False)
    assert leftovers(tmp_path) == []


def test_http_error_leaves_no_file(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download_movielens("ml-1m", tmp_path, base_url=server.base, progress=False)
    assert leftovers(tmp_path) == []


def test_skips_when_a_verified_file_exists(server, archive, tmp_path):
    server.routes["/ml-100k.zip"] = (archive, len(archive))
    digest = hashlib.sha256(archive).hexdigest()
    first = download_movielens(
        "ml-100k", tmp_path, base_url=server.base, expected_sha256=digest, progress=False
    )
    assert server.requests == ["/ml-100k.zip"]
    again = download_movielens(
        "ml-100k", tmp_path, base_url=server.base, expected_sha256=digest, progress=False
    )
    assert again == first and server.requests == ["/ml-100k.zip"]


def test_damaged_existing_file_is_replaced(server, archive, tmp_path):
    server.routes["/ml-100k.zip"] = (archive, len(archive))
    (tmp_path / "ml-100k.zip").write_bytes(archive[:1000])
    path = download_movielens("ml-100k", tmp_path, base_url=server.base, progress=False)
    assert path.read_bytes() == archive and len(server.requests) == 1


def test_failed_redownload_keeps_the_existing_file(server, archive, tmp_path):
    old = archive[:1000]
    (tmp_path / "ml-100k.zip").write_bytes(old)
    server.routes["/ml-100k.zip"] = (archive[:5000], len(archive))
    with pytest.raises(DownloadError):
        download_movielens("ml-100k", tmp_path, base_url=server.base, progress=False)
    assert leftovers(tmp_path) == ["ml-100k.zip"]
    assert (tmp_path / "ml-100k.zip").read_bytes() == old


def test_bad_name(tmp_path):
    with pytest.raises(ValueError, match="neither a URL nor a MovieLens release name"):
        download_movielens("../etc/passwd", tmp_path)
