"""Matrix factorization to and from the arrays and metadata of a model file.

The layout is unchanged since before the ``model_type`` tag: files written then
load as they are (:class:`~.recommender.Recommender` treats a missing tag as MF).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._vocab import IdVocabulary
from .mf_training import Factors
from .params import MFParams
from .persistence import ModelFileError

if TYPE_CHECKING:
    from .model import MatrixFactorization

__all__ = ["mf_from_arrays", "mf_to_arrays"]


def mf_to_arrays(model: MatrixFactorization) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    f, seen = model._factors, model._seen
    arrays = {
        "user_factors": f.user_factors,
        "user_bias": f.user_bias,
        "user_counts": model.user_counts,
        "item_factors": f.item_factors,
        "item_bias": f.item_bias,
        "item_popularity": model.item_popularity.astype(np.int64),
        "seen_indptr": seen.indptr.astype(np.int64),
        "seen_indices": seen.indices.astype(np.int64),
        "seen_ratings": seen.data.astype(np.float64),
        "user_ids": model._users.to_array(),
        "item_ids": model._items.to_array(),
    }
    meta = {
        "model": "MatrixFactorization",
        "params": model.params.model_dump(mode="json"),
        "global_mean": model.global_mean,
        "rating_scale": list(model.rating_scale),
        "n_ratings": model.n_ratings,
        "fingerprint": model.fingerprint,
        "user_id_kind": model._users.kind,
        "item_id_kind": model._items.kind,
        "fit_info": model.fit_info,
        "numpy_version": np.__version__,
    }
    return arrays, meta


def mf_from_arrays(
    cls: type[MatrixFactorization], arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> MatrixFactorization:
    try:
        model = cls(MFParams(**meta["params"]))
        users = IdVocabulary.from_array(arrays["user_ids"])
        items = IdVocabulary.from_array(arrays["item_ids"])
        n_u, n_i, f = len(users), len(items), model.params.n_factors
        factors = Factors(
            user_bias=np.array(arrays["user_bias"], dtype=np.float64),
            user_factors=np.array(arrays["user_factors"], dtype=np.float64),
            item_bias=np.asarray(arrays["item_bias"], dtype=np.float64),
            item_factors=np.ascontiguousarray(arrays["item_factors"], dtype=np.float64),
        )
        if factors.user_factors.shape != (n_u, f) or factors.item_factors.shape != (n_i, f):
            raise ValueError("factor shapes do not match ids and n_factors")
        seen = sp.csr_matrix(
            (arrays["seen_ratings"], arrays["seen_indices"], arrays["seen_indptr"]), shape=(n_u, n_i)
        )
        model._install(
            users,
            items,
            factors,
            seen,
            user_counts=np.array(arrays["user_counts"], dtype=np.int64),
            item_popularity=np.asarray(arrays["item_popularity"], dtype=np.int64),
            global_mean=float(meta["global_mean"]),
            rating_scale=(float(meta["rating_scale"][0]), float(meta["rating_scale"][1])),
            n_ratings=int(meta["n_ratings"]),
            fingerprint=str(meta["fingerprint"]),
        )
        model.fit_info = dict(meta.get("fit_info", {}))
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelFileError(f"model file content is inconsistent: {exc}") from exc
    return model
