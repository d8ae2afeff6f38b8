"""Small fixtures for the recsys_core model tests (no conftest needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """MovieLens data folder: $RECSYS_DATA_DIR, else ../shared/data next to the repo."""
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO / ".." / "shared" / "data")).resolve()


def ml100k_fold(n: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Official ml-100k split uN.base / uN.test as ratings frames."""
    folder = data_dir() / "ml-100k"
    assert (folder / "u1.base").exists(), f"ml-100k expected at {folder} (set RECSYS_DATA_DIR)"
    names = ["user_id", "item_id", "rating", "timestamp"]
    read = lambda f: pd.read_csv(folder / f, sep="\t", names=names)
    return read(f"u{n}.base"), read(f"u{n}.test")


def tiny_ratings() -> pd.DataFrame:
    """A hand-made 5-user x 6-item frame with two taste groups."""
    rows = [
        ("alice", "m1", 5.0),
        ("alice", "m2", 4.0),
        ("alice", "m3", 1.0),
        ("alice", "m4", 2.0),
        ("bob", "m1", 4.0),
        ("bob", "m2", 5.0),
        ("bob", "m4", 1.0),
        ("bob", "m5", 2.0),
        ("carol", "m3", 5.0),
        ("carol", "m4", 4.0),
        ("carol", "m1", 1.0),
        ("carol", "m6", 5.0),
        ("dave", "m3", 4.0),
        ("dave", "m4", 5.0),
        ("dave", "m2", 2.0),
        ("dave", "m5", 4.0),
        ("erin", "m1", 5.0),
        ("erin", "m6", 2.0),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    frame["timestamp"] = np.arange(len(frame), dtype=np.int64)
    return frame


def random_ratings(
    n_users: int = 60,
    n_items: int = 40,
    density: float = 0.3,
    seed: int = 0,
    scale: tuple[float, float] = (1.0, 5.0),
    step: float = 1.0,
) -> pd.DataFrame:
    """Random low-rank ratings with integer ids, rounded to ``step`` inside ``scale``."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    pu, qi = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    mid, half = (scale[0] + scale[1]) / 2, (scale[1] - scale[0]) / 2
    raw = mid + half * np.tanh(0.5 * (pu[u] * qi[i]).sum(1) + 0.3 * rng.normal(size=len(u)))
    r = np.clip(np.round(raw / step) * step, *scale)
    return pd.DataFrame(
        {
            "user_id": u + 100,
            "item_id": i + 1000,
            "rating": r,
            "timestamp": np.zeros(len(u), dtype=np.int64),
        }
    )
