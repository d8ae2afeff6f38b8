"""Where uploaded archives wait while they import, and the clean-up of what a dead
process left there.

Each upload gets its own folder ``upload-<pid>-<random>`` under one known directory.
A request removes its folder when it ends, however it ends; a process killed mid-upload
cannot, so each API process sweeps, as it starts, the folders of processes that are no
longer alive. The directory must belong to this host (or container): a pid names a
process only there.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.core.config import Settings

log = logging.getLogger(__name__)

_FOLDER = re.compile(r"upload-(\d+)-")


def upload_root(settings: Settings) -> Path:
    return Path(settings.import_temp_dir) if settings.import_temp_dir else Path(tempfile.gettempdir()) / "recsys-imports"


@contextmanager
def upload_folder(settings: Settings) -> Iterator[Path]:
    """A private folder for one upload, removed when the block ends."""
    root = upload_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"upload-{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_uploads(settings: Settings) -> int:
    """At start-up: remove the upload folders of processes that are gone. Returns how many."""
    root = upload_root(settings)
    if not root.is_dir():
        return 0
    removed = 0
    for entry in root.iterdir():
        match = _FOLDER.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %d upload folder(s) left by processes that died mid-import", removed)
    return removed


def _alive(pid: int) -> bool:
    # This process has made no upload yet, so a folder with its pid was left by an
    # earlier process that had the same pid (a restarted container starts at the same pid).
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True
