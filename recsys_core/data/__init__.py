"""Data: MovieLens readers and download, train/test splits, synthetic ratings."""

from .download import GROUPLENS_URL, DownloadError, download_movielens
from .movielens import RATING_SCALES, MovieLensDataset, load_movielens, rating_scale_of
from .splits import (
    OFFICIAL_SPLITS,
    Split,
    kfold_splits,
    official_movielens_split,
    temporal_split,
    user_holdout_split,
)
from .synthetic import SyntheticDataset, synthetic_ratings

__all__ = [
    "GROUPLENS_URL",
    "OFFICIAL_SPLITS",
    "RATING_SCALES",
    "DownloadError",
    "MovieLensDataset",
    "Split",
    "SyntheticDataset",
    "download_movielens",
    "kfold_splits",
    "load_movielens",
    "official_movielens_split",
    "rating_scale_of",
    "synthetic_ratings",
    "temporal_split",
    "user_holdout_split",
]
