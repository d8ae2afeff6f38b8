"""Items' tags (genres, say) and a user's taste for them, for models that use side
information (the ensemble).

A user's affinity for tag ``g`` is the share of their rated movies that carry ``g``,
each movie weighted by how much they liked it (its rating as a fraction of the scale),
minus ``g``'s share of the whole catalogue: a Sci-Fi fan's Sci-Fi affinity is high, and
a tag every movie has is worth nothing. A movie scores the mean affinity of its tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["TagProfile"]


@dataclass(frozen=True)
class TagProfile:
    names: np.ndarray  # (n_tags,) tag names
    matrix: np.ndarray  # (n_items, n_tags) 1 where the item carries the tag

    @classmethod
    def of(cls, item_ids: np.ndarray, item_tags: Mapping[Any, Sequence[str]] | None) -> TagProfile:
        """The tags of the catalogue ``item_ids`` (items missing from ``item_tags`` have none)."""
        if not item_tags:
            return cls(np.zeros(0, dtype="<U1"), np.zeros((len(item_ids), 0), dtype=np.float32))
        names = np.array(sorted({tag for tags in item_tags.values() for tag in tags}), dtype=str)
        column = {name: k for k, name in enumerate(names.tolist())}
        matrix = np.zeros((len(item_ids), len(names)), dtype=np.float32)
        for row, item in enumerate(item_ids.tolist()):
            for tag in item_tags.get(item, ()):
                matrix[row, column[tag]] = 1.0
        return cls(names, matrix)

    def scores(self, codes: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> np.ndarray:
        """Tag scores of every item for each profile: ``codes[k]`` are the catalogue indices
        profile ``k`` rated, ``weights[k]`` how much it liked each (0 to 1)."""
        n_items, n_tags = self.matrix.shape
        if n_tags == 0 or not codes:
            return np.zeros((len(codes), n_items))
        if len(codes) == 1:  # one request's profile: a few rows of the matrix, no sparse build
            weight = np.asarray(weights[0], dtype=np.float64)
            carried = (weight @ self.matrix[np.asarray(codes[0], dtype=np.int64)])[None, :]
        else:
            rows = np.repeat(np.arange(len(codes)), [len(c) for c in codes])
            liked = sp.csr_matrix(
                (np.concatenate(weights).astype(np.float64), (rows, np.concatenate(codes).astype(np.int64))),
                shape=(len(codes), n_items),
            )
            carried = np.asarray(liked @ self.matrix)
        totals = np.array([float(np.sum(w)) for w in weights])
        share = carried / np.where(totals > 0, totals, 1.0)[:, None]
        lift = np.where(totals[:, None] > 0, share - self._catalogue_share, 0.0)
        return (lift @ self.matrix.T) / self._tags_per_item

    @cached_property
    def _catalogue_share(self) -> np.ndarray:
        return self.matrix.mean(axis=0)[None, :]

    @cached_property
    def _tags_per_item(self) -> np.ndarray:
        return np.maximum(self.matrix.sum(axis=1), 1.0)[None, :]

    def scores_reference(self, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """One profile, item by item, as the module docstring says (for tests)."""
        n_items, n_tags = self.matrix.shape
        total = float(np.sum(weights))
        out = np.zeros(n_items)
        if n_tags == 0 or total == 0:
            return out
        affinity = {}
        for tag in range(n_tags):
            carried = sum(w for c, w in zip(codes, weights, strict=True) if self.matrix[c, tag])
            affinity[tag] = carried / total - self.matrix[:, tag].mean()
        for item in range(n_items):
            tags = [t for t in range(n_tags) if self.matrix[item, t]]
            out[item] = sum(affinity[t] for t in tags) / len(tags) if tags else 0.0
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"tag_names": self.names, "tag_matrix": self.matrix.astype(np.uint8)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_items: int) -> TagProfile:
        names = np.asarray(arrays.get("tag_names", np.zeros(0, dtype="<U1")))
        matrix = np.asarray(arrays.get("tag_matrix", np.zeros((n_items, 0))), dtype=np.float32)
        if matrix.shape != (n_items, len(names)):
            raise ValueError(f"tag matrix of shape {matrix.shape} for {n_items} items and {len(names)} tags")
        return cls(names, matrix)
