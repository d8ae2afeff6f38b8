"""Fixtures for the recsys_core tests: the shared MovieLens copies (never inside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import data_dir


@pytest.fixture(scope="session")
def ml_latest_small_dir() -> Path:
    path = data_dir() / "ml-latest-small"
    assert (path / "ratings.csv").exists(), (
        f"MovieLens ml-latest-small expected at {path} (set RECSYS_DATA_DIR)"
    )
    return path
