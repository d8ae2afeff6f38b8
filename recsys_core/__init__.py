"""recsys_core: recommender models for explicit ratings behind one interface.

A numeric library (numpy, pandas, scipy, pydantic) with no knowledge of the web, the
queue or the database. Every model type implements :class:`Recommender`; see
docs/recsys_core.md for the surface the service uses.

``EASE``, ``ImplicitALS`` and ``Ensemble`` are imported on first use (``EASE`` pulls in
``scipy.linalg``), so ``import recsys_core`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from recsys_core.data import (
    MovieLensDataset,
    Split,
    SyntheticDataset,
    download_movielens,
    kfold_splits,
    load_movielens,
    official_movielens_split,
    synthetic_ratings,
    temporal_split,
    user_holdout_split,
)
from recsys_core.evaluation import EvaluationReport, evaluate
from recsys_core.model import MatrixFactorization
from recsys_core.params import EASEParams, EnsembleParams, IALSParams, MFParams
from recsys_core.recommender import EpochReport, Explanation, Recommender, Term, UserProfile
from recsys_core.types import MODEL_TYPES, build_model, load_model

if TYPE_CHECKING:
    from recsys_core.ease import EASE
    from recsys_core.ensemble import Ensemble
    from recsys_core.ials import ImplicitALS

_LAZY = {"EASE": "recsys_core.ease", "ImplicitALS": "recsys_core.ials", "Ensemble": "recsys_core.ensemble"}

__all__ = [
    "EASE",
    "MODEL_TYPES",
    "EASEParams",
    "Ensemble",
    "EnsembleParams",
    "EpochReport",
    "EvaluationReport",
    "Explanation",
    "IALSParams",
    "ImplicitALS",
    "MFParams",
    "MatrixFactorization",
    "MovieLensDataset",
    "Recommender",
    "Split",
    "SyntheticDataset",
    "Term",
    "UserProfile",
    "build_model",
    "download_movielens",
    "evaluate",
    "kfold_splits",
    "load_model",
    "load_movielens",
    "official_movielens_split",
    "synthetic_ratings",
    "temporal_split",
    "user_holdout_split",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'recsys_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
