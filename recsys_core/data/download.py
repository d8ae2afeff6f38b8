"""Download a GroupLens archive safely.

The archive is streamed into a temporary file next to its destination, checked
(length, optional size and SHA-256, zip readability) and only then renamed into
place with :func:`os.replace`, which is atomic on one file system. Any failure
removes the temporary file, so a partial download never sits where a good one
is expected.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import IO

__all__ = ["GROUPLENS_URL", "DownloadError", "download_movielens"]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"

_NAME = re.compile(r"^ml-[A-Za-z0-9._-]+$")


class DownloadError(OSError):
    """A download failed or its result did not verify; nothing was left behind."""


def _sha256(path: Path, chunk_size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _check_zip(path: Path, label: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(f"{label} is not a readable zip archive: {exc}") from exc
    if bad is not None:
        raise DownloadError(f"{label} is a damaged zip archive (bad CRC in {bad})")


def _verify(
    path: Path,
    label: str,
    *,
    expected_size: int | None,
    expected_sha256: str | None,
    sha256: str | None,
    chunk_size: int,
) -> None:
    """Raise DownloadError unless ``path`` matches the expectations and is a readable zip."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{label} has {size} bytes, expected {expected_size}")
    if expected_sha256 is not None:
        actual = sha256 if sha256 is not None else _sha256(path, chunk_size)
        if actual.lower() != expected_sha256.lower():
            raise DownloadError(f"{label} has SHA-256 {actual}, expected {expected_sha256}")
    _check_zip(path, label)


class _Progress:
    """A plain text progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self._last = 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        mb = done / 1e6
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            line = (
                f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% {mb:.1f}/{self.total / 1e6:.1f} MB"
            )
        else:
            line = f"\r{self.label} {mb:.1f} MB"
        self.stream.write(line + ("\n" if final else ""))
        self.stream.flush()


def _resolve(name_or_url: str, base_url: str) -> tuple[str, str]:
    """Return ``(url, file name)`` for a release name or a full URL."""
    if "://" in name_or_url:
        filename = Path(urllib.parse.urlparse(name_or_url).path).name
        if not filename:
            raise ValueError(f"cannot tell the file name from URL {name_or_url!r}")
        return name_or_url, filename
    name = name_or_url.removesuffix(".zip")
    if not _NAME.match(name):
        raise ValueError(
            f"{name_or_url!r} is neither a URL nor a MovieLens release name like 'ml-100k'"
        )
    return base_url.rstrip("/") + "/" + name + ".zip", name + ".zip"


def download_movielens(
    name_or_url: str,
    dest_dir: str | Path,
    *,
    base_url: str = GROUPLENS_URL,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
    chunk_size: int = 1 << 20,
    timeout: float = 60.0,
) -> Path:
    """Download a MovieLens zip into ``dest_dir`` and return its path.

    ``name_or_url`` is a release name (``"ml-100k"`` -> ``base_url + "ml-100k.zip"``)
    or a full URL. The body is streamed into a temporary file in ``dest_dir`` while
    its SHA-256 is computed; the download is accepted only when the byte count
    matches ``Content-Length`` (when sent) and ``expected_size`` (when given), the
    digest matches ``expected_sha256`` (when given) and the file opens as a zip
    with correct CRCs. It is then renamed into place. When the destination
    already exists and passes the same checks, nothing is downloaded; when it
    exists but fails them, it is downloaded again.

    Raises:
        ValueError: ``name_or_url`` is neither a URL nor a release name.
        DownloadError: the transfer failed or the result did not verify. The
            temporary file is removed first; an existing destination is untouched.
    """
    url, filename = _resolve(name_or_url, base_url)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    checks = {
        "expected_size": expected_size,
        "expected_sha256": expected_sha256,
        "chunk_size": chunk_size,
    }

    if dest.is_file():
        try:
            _verify(dest, str(dest), sha256=None, **checks)
            return dest
        except DownloadError:
            pass  # stale or damaged: download again, replacing it only when verified

    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                    if total is not None and expected_size is not None and total != expected_size:
                        raise DownloadError(
                            f"{url} announces {total} bytes, expected {expected_size}"
                        )
                    bar = _Progress(filename, total) if progress else None
                    while block := response.read(chunk_size):
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        if bar is not None:
                            bar.update(received)
                    if bar is not None:
                        bar.update(received, final=True)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                if isinstance(exc, DownloadError):
                    raise
                raise DownloadError(f"downloading {url} failed: {exc}") from exc
        if total is not None and received != total:
            raise DownloadError(
                f"downloading {url} was cut short: received {received} of {total} bytes"
            )
        _verify(tmp, f"download of {url}", sha256=digest.hexdigest(), **checks)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
