"""Shared test helpers: where the MovieLens data lives (never inside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    path = data_dir() / "ml-100k"
    assert (path / "u.data").exists(), f"MovieLens ml-100k expected at {path} (set RECSYS_DATA_DIR)"
    return path
