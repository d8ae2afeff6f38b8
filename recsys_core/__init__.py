"""recsys_core: vectorized biased matrix factorization for explicit ratings.

A numeric library (numpy, pandas, scipy, pydantic) with no knowledge of the web, the
queue or the database. See docs/recsys_core.md for the surface the service uses.
"""

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
from recsys_core.model import EpochReport, Explanation, MatrixFactorization, UserVector
from recsys_core.params import MFParams

__all__ = [
    "EpochReport",
    "EvaluationReport",
    "Explanation",
    "MFParams",
    "MatrixFactorization",
    "MovieLensDataset",
    "Split",
    "SyntheticDataset",
    "UserVector",
    "download_movielens",
    "evaluate",
    "kfold_splits",
    "load_movielens",
    "official_movielens_split",
    "synthetic_ratings",
    "temporal_split",
    "user_holdout_split",
]
