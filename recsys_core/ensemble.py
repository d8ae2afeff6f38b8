"""The ensemble: a ranking model blended with matrix factorization's predicted rating.

For one user, each component's scores are standardized over the catalogue
(``z = (s - mean) / std``) and blended::

    score_i = z_ranker_i + calibration_weight * (z_ranker_i - m_i) / s_i
              + mf_weight * z_mf_i - popularity_penalty * log(1 + n_i)

The ranker (EASE or iALS) knows *what* the user will want to watch; MF's predicted
rating knows *how much* they would like it, so a movie they would rate 2 stars does
not reach the top. ``m_i``/``s_i`` are the mean and spread of item ``i``'s ranker
z-score over the training users: the calibrated term favours movies the ranker
scores unusually high for *this* user, which widens the catalogue at almost no cost
in accuracy (on ml-100k it did this better than a popularity penalty).

Weights left unset are chosen on a validation split carved from the training ratings
(never from data the model is evaluated on): both components are fitted on the rest,
every point of a small grid is scored on the held-out part, the best NDCG@10 among the
points whose catalogue coverage reaches ``coverage_floor`` wins, and the components
are refitted on all ratings.

The ensemble carries its MF, so :meth:`Ensemble.predict` and the predicted ratings a
service displays stay MF's. Explanations stay exactly additive: each component's terms
are scaled by its blend factor, per-user constants are gathered in one ``baseline``
term, and the two components' shares of the same rated movie are added.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.splits import user_holdout_split
from .params import EnsembleParams
from .recommender import (
    Callback,
    EpochReport,
    Explanation,
    NotFittedError,
    Recommender,
    Term,
    UnknownIdError,
    UserProfile,
    check_n,
    ids_of,
    top_n_rows,
)
from ._ranker import scale_fraction
from ._tags import TagProfile
from .types import build_model

__all__ = ["Ensemble"]

CALIBRATION_WEIGHTS = (0.0, 0.2, 0.4, 0.6)
MF_WEIGHTS = (0.1, 0.2, 0.3)
POPULARITY_PENALTIES = (0.0, 0.2, 0.4)
TAG_WEIGHTS = (0.0, 0.2, 0.4, 0.6, 0.8)
VALIDATION_USERS = 100_000  # users the grid is scored on (a seeded sample beyond this)
VALIDATION_K = 10
CALIBRATION_BATCH = 512
CALIBRATION_EPS = 0.05  # floors an item's spread: a movie every user scores alike gains no lift
_EPS = 1e-12


@dataclass(frozen=True)
class Weights:
    """Blend weights; ``None`` means "choose on validation"."""

    calibration: float | None
    mf: float | None
    popularity: float | None
    tags: float | None = 0.0

    @property
    def complete(self) -> bool:
        return None not in (self.calibration, self.mf, self.popularity, self.tags)

    def as_dict(self, prefix: str = "") -> dict[str, float | None]:
        return {f"{prefix}calibration_weight": self.calibration, f"{prefix}mf_weight": self.mf,
                f"{prefix}popularity_penalty": self.popularity, f"{prefix}tag_weight": self.tags}

    @classmethod
    def from_dict(cls, values: dict[str, Any], prefix: str = "") -> Weights:
        return cls(*(float(values.get(f"{prefix}{name}", 0.0) or 0.0)
                     for name in ("calibration_weight", "mf_weight", "popularity_penalty", "tag_weight")))


def _fixed_or(value: float | None, grid: tuple[float, ...]) -> tuple[float, ...]:
    return grid if value is None else (value,)


def coordinate_search(
    axes: dict[str, tuple[float, ...]], measure: Callable[[Weights], tuple[float, float]], coverage_floor: float,
    rounds: int = 2,
) -> tuple[Weights, tuple[float, float]]:
    """Weights that maximise validation NDCG among those reaching the coverage floor,
    one weight at a time (a full grid costs the product of the axes, this their sum).

    A point below the floor loses to any point above it; among points below, more
    coverage wins, so the search climbs towards the floor first."""
    current = {name: values[len(values) // 2] for name, values in axes.items()}
    seen: dict[tuple[float, ...], tuple[float, float]] = {}

    def value(point: dict[str, float]) -> tuple[bool, float, float]:
        key = tuple(point[name] for name in axes)
        if key not in seen:
            seen[key] = measure(Weights(**point))
        ndcg, coverage = seen[key]
        return (coverage >= coverage_floor, ndcg if coverage >= coverage_floor else coverage, ndcg)

    for _ in range(rounds):
        for name, values in axes.items():
            current[name] = max(values, key=lambda v: value({**current, name: v}))
    best = tuple(current[name] for name in axes)
    return Weights(**current), seen[best]


def standardize(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise ``(z, mean, std)`` of a 1-D or 2-D score array (std floored)."""
    mean = scores.mean(axis=-1, keepdims=True)
    std = np.maximum(scores.std(axis=-1, keepdims=True), _EPS)
    return (scores - mean) / std, mean, std


def ndcg_at_k(scores: np.ndarray, relevant: list[np.ndarray], k: int) -> float:
    """Mean NDCG@k of score rows (excluded items at ``-inf``) against relevant indices."""
    return ranking_at_k(scores, relevance_mask(relevant, scores.shape[1]), k)[0]


def relevance_mask(relevant: list[np.ndarray], n_items: int) -> np.ndarray:
    """A boolean ``(users, items)`` matrix: True where an item is relevant to the user."""
    mask = np.zeros((len(relevant), n_items), dtype=bool)
    rows = np.repeat(np.arange(len(relevant)), [len(r) for r in relevant])
    mask[rows, np.concatenate(relevant) if relevant else np.zeros(0, dtype=np.int64)] = True
    return mask


def ranking_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> tuple[float, float]:
    """``(mean NDCG@k, catalogue coverage@k)`` of score rows against a relevance mask
    (:func:`relevance_mask`); every row must have a relevant item."""
    top, _ = top_n_rows(scores, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.take_along_axis(relevant, np.maximum(top, 0), axis=1) & (top >= 0)
    ideal = np.cumsum(discounts)[np.minimum(relevant.sum(axis=1), k) - 1]
    covered = np.unique(top[top >= 0]).size / max(scores.shape[1], 1)
    return float(np.mean((hits @ discounts) / ideal)), covered


class Ensemble(Recommender):
    """Ranker + MF blend. ``Ensemble(EnsembleParams(...))`` or ``Ensemble(ranker="ials")``."""

    model_type = "ensemble"
    predicts_ratings = True

    def __init__(self, params: EnsembleParams | None = None, **hyperparams: Any) -> None:
        if params is not None and hyperparams:
            raise ValueError("pass either params= or keyword hyperparameters, not both")
        self.params = params if params is not None else EnsembleParams(**hyperparams)
        self.history: list[EpochReport] = []
        self.fit_info: dict[str, Any] = {}
        self._fitted = False

    # ------------------------------------------------------------ training
    def _components(self) -> tuple[Recommender, Recommender]:
        p = self.params
        ranker_params = p.ease if p.ranker == "ease" else p.ials
        return build_model(p.ranker, ranker_params), build_model("matrix_factorization", p.mf)

    def fit(
        self,
        ratings: Any,
        *,
        validation: Any = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callback | None = None,
        item_tags: Mapping[Any, Sequence[str]] | None = None,
    ) -> Ensemble:
        """Choose the unset weights on a validation split of ``ratings``, then fit both
        components on all of them. ``callback`` sees MF's epochs of the final fit.
        ``item_tags`` (item id -> tags such as genres) adds the tag-affinity term."""
        p = self.params
        started = time.perf_counter()
        if rating_scale is None:
            rating_scale = (float(ratings["rating"].min()), float(ratings["rating"].max()))
        asked = Weights(p.calibration_weight, p.mf_weight, p.popularity_penalty, p.tag_weight if item_tags else 0.0)
        warm = cold = asked
        chosen: dict[str, float] = {}
        if not asked.complete:
            warm, cold, chosen = self._choose_weights(ratings, rating_scale, item_tags, asked)
        ranker, mf = self._components()
        ranker.fit(ratings, rating_scale=rating_scale)
        mf.fit(ratings, validation=validation, rating_scale=rating_scale, callback=callback)
        self._install(ranker, mf, warm, cold, item_tags)
        self._calibrate(ratings)
        self.history = list(mf.history)
        self.fit_info = {
            **mf.fit_info,
            **warm.as_dict(),
            **cold.as_dict("cold_"),
            "weights_chosen_on_validation": bool(chosen),
            **chosen,
            "seconds": time.perf_counter() - started,
        }
        return self

    def _choose_weights(
        self, ratings: Any, scale: tuple[float, float], item_tags: Mapping[Any, Sequence[str]] | None,
        asked: Weights,
    ) -> tuple[Weights, Weights, dict[str, float]]:
        """``(warm weights, cold-start weights, what validation measured)``.

        Validation users are scored twice: from all their training ratings (warm), and
        from a few of them, as a new user would have (cold: ``cold_start_ratings // 2``
        ratings, liked ones first), against the same held-out liked movies."""
        p = self.params
        split = user_holdout_split(ratings, test_fraction=p.validation_fraction, seed=p.seed)
        ranker, mf = self._components()
        ranker.fit(split.train, rating_scale=scale)
        mf.fit(split.train, rating_scale=scale)
        probe = Ensemble(self.params)
        probe._install(ranker, mf, Weights(0.0, 0.0, 0.0), Weights(0.0, 0.0, 0.0), item_tags)
        probe._calibrate(split.train)
        threshold = scale[0] + 0.75 * (scale[1] - scale[0])
        liked = split.test[split.test["rating"] >= threshold]
        codes = mf._item_codes(liked["item_id"].to_numpy())
        liked = liked[codes >= 0].assign(code=codes[codes >= 0])
        if liked.empty:
            fallback = Weights(*(v if v is not None else d for v, d in zip(
                (asked.calibration, asked.mf, asked.popularity, asked.tags), (0.0, 0.2, 0.0, 0.0), strict=True)))
            return fallback, fallback, {}
        groups = liked.groupby("user_id", sort=False)["code"]
        users = list(groups.groups)
        rng = np.random.default_rng(p.seed)
        picked = np.sort(rng.choice(len(users), size=min(len(users), VALIDATION_USERS), replace=False))
        users = [users[k] for k in picked]
        all_relevant = [codes_of_user.to_numpy() for _, codes_of_user in groups]
        relevant = relevance_mask([all_relevant[k] for k in picked], mf.n_items)
        warm_profiles = [probe.trained_profile(u) for u in users]
        cold_size = max(p.cold_start_ratings // 2, 1)
        cold_profiles = []
        for profile in warm_profiles:
            # A new user's first ratings are mostly of films they love (a sign-up asks for
            # favourites), so a cold profile is drawn from the user's liked ratings first.
            order = rng.permutation(len(profile.item_ids))  # type: ignore[union-attr]
            order = order[np.argsort(profile.ratings[order] < threshold, kind="stable")]  # type: ignore[union-attr]
            keep = order[:cold_size]
            cold_profiles.append(probe.profile(profile.item_ids[keep], profile.ratings[keep]))  # type: ignore[union-attr]
        axes = {
            "calibration": _fixed_or(asked.calibration, CALIBRATION_WEIGHTS),
            "mf": _fixed_or(asked.mf, MF_WEIGHTS),
            "popularity": _fixed_or(asked.popularity, POPULARITY_PENALTIES),
            "tags": _fixed_or(asked.tags, TAG_WEIGHTS),
        }
        chosen: dict[str, float] = {}
        best_of = []
        for label, profiles in (("", warm_profiles), ("cold_", cold_profiles)):
            parts = probe._z_batch(profiles)  # type: ignore[arg-type]
            seen = np.zeros(relevant.shape, dtype=bool)
            for row, pr in enumerate(profiles):
                seen[row, mf._item_codes(pr.item_ids)] = True  # type: ignore[union-attr]

            def measure(w: Weights, parts: tuple[np.ndarray, ...] = parts, seen: np.ndarray = seen) -> tuple[float, float]:
                return ranking_at_k(np.where(seen, -np.inf, probe._blend(*parts, w)), relevant, VALIDATION_K)

            best, (ndcg, coverage) = coordinate_search(axes, measure, p.coverage_floor)
            best_of.append(best)
            chosen.update({f"{label}validation_ndcg": ndcg, f"{label}validation_coverage": coverage})
        return best_of[0], best_of[1], chosen

    def _install(
        self, ranker: Recommender, mf: Recommender, weights: Weights, cold: Weights,
        item_tags: Mapping[Any, Sequence[str]] | None,
    ) -> None:
        self.ranker, self.mf = ranker, mf
        self.weights, self.cold_weights = weights, cold
        self._tags = TagProfile.of(mf.item_ids, item_tags)
        # The catalogue is MF's (every trained item); the ranker may keep fewer (EASE's
        # max_items): those items take the ranker's lowest standardized score.
        self._ranker_index = ranker._item_codes(mf.item_ids)
        self._log_popularity = np.log1p(mf.item_popularity.astype(np.float64))
        self._item_mean = np.zeros(len(self._ranker_index))
        self._item_std = np.ones(len(self._ranker_index))
        self.rating_scale = mf.rating_scale
        self.n_ratings = mf.n_ratings
        self.fingerprint = mf.fingerprint
        self._fitted = True

    def _calibrate(self, ratings: Any) -> None:
        """Each item's mean and spread of the ranker's z-score over the training users."""
        users = ratings["user_id"].unique()
        total = np.zeros(self.n_items)
        squares = np.zeros(self.n_items)
        for start in range(0, len(users), CALIBRATION_BATCH):
            profiles = [self.trained_profile(u) for u in users[start : start + CALIBRATION_BATCH]]
            raw = self.ranker.scores_batch([self._ranker_profile(p) for p in profiles])  # type: ignore[arg-type]
            z = self._ranker_z_batch(raw)[0]
            total += z.sum(axis=0)
            squares += (z**2).sum(axis=0)
        mean = total / max(len(users), 1)
        self._item_mean = mean
        self._item_std = np.sqrt(np.maximum(squares / max(len(users), 1) - mean**2, 0.0)) + CALIBRATION_EPS

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("model is not fitted; call fit() or load() first")

    # ----------------------------------------------------------- catalogue
    @property
    def item_ids(self) -> np.ndarray:
        self._require_fitted()
        return self.mf.item_ids

    @property
    def user_ids(self) -> np.ndarray:
        self._require_fitted()
        return self.mf.user_ids

    @property
    def item_popularity(self) -> np.ndarray:
        return self.mf.item_popularity

    @property
    def global_mean(self) -> float:
        return float(self.mf.global_mean)  # type: ignore[attr-defined]

    def has_item(self, item_id: Any) -> bool:
        return self.mf.has_item(item_id)

    def _item_codes(self, item_ids: Any) -> np.ndarray:
        return self.mf._item_codes(item_ids)

    # --------------------------------------------------------- user states
    @property
    def state_size(self) -> int:
        return self.mf.state_size + self.ranker.state_size

    def user_states(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        return np.hstack([
            self.mf.user_states(rows, item_ids, ratings, n_rows),
            self.ranker.user_states(rows, item_ids, ratings, n_rows),
        ])

    def trained_state(self, user_id: Any) -> np.ndarray | None:
        mf_state = self.mf.trained_state(user_id)
        if mf_state is None:
            return None
        ranker_state = self.ranker.trained_state(user_id)
        if ranker_state is None:
            items, values = self.mf.seen_items(user_id)
            ranker_state = self.ranker.profile(items, values).state
        return np.concatenate([mf_state, ranker_state])

    def seen_items(self, user_id: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.mf.seen_items(user_id)

    def _mf_profile(self, profile: UserProfile) -> UserProfile:
        return UserProfile(profile.item_ids, profile.ratings, profile.state[: self.mf.state_size])

    def _ranker_profile(self, profile: UserProfile) -> UserProfile:
        return UserProfile(profile.item_ids, profile.ratings, profile.state[self.mf.state_size :])

    # -------------------------------------------------------------- scoring
    def _ranker_z(self, profile: UserProfile) -> tuple[np.ndarray, float, float]:
        """The ranker's standardized scores on the ensemble's catalogue, with the mean
        and std they were standardized by."""
        z, mean, std = self._ranker_z_batch(self.ranker.scores(self._ranker_profile(profile))[None, :])
        return z[0], float(mean[0, 0]), float(std[0, 0])

    def _ranker_z_batch(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z, mean, std = standardize(raw)
        known = self._ranker_index >= 0
        mapped = np.repeat(z.min(axis=1, keepdims=True) if z.shape[1] else np.zeros((len(z), 1)), self.n_items, axis=1)
        mapped[:, known] = z[:, self._ranker_index[known]]
        return mapped, mean, std

    def _z_batch(self, profiles: Sequence[UserProfile]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The standardized scores of many profiles: ``(z_ranker, z_mf, z_tags)``."""
        z_ranker = self._ranker_z_batch(self.ranker.scores_batch([self._ranker_profile(p) for p in profiles]))[0]
        z_mf = standardize(self.mf.scores_batch([self._mf_profile(p) for p in profiles]))[0]
        z_tags = standardize(self._tag_scores(profiles))[0]
        return z_ranker, z_mf, z_tags

    def _tag_scores(self, profiles: Sequence[UserProfile]) -> np.ndarray:
        rows = [self._item_codes(p.item_ids) for p in profiles]
        return self._tags.scores(
            [r[r >= 0] for r in rows],
            [scale_fraction(np.asarray(p.ratings)[r >= 0], self.rating_scale) for p, r in zip(profiles, rows, strict=True)],
        )

    def weights_for(self, profile: UserProfile) -> Weights:
        """The cold-start weights for a profile of at most ``cold_start_ratings`` known
        movies, else the warm ones."""
        known = int((self._item_codes(profile.item_ids) >= 0).sum())
        return self.cold_weights if known <= self.params.cold_start_ratings else self.weights

    def _parts(self, profile: UserProfile) -> tuple[np.ndarray, Weights, tuple[float, ...], np.ndarray]:
        """Blended scores, the weights used, each component's (mean, std) and the raw tag
        scores, for explanations."""
        z_ranker, r_mean, r_std = self._ranker_z(profile)
        z_mf, m_mean, m_std = standardize(self.mf.scores(self._mf_profile(profile)))
        raw_tags = self._tag_scores([profile])[0]
        z_tags, t_mean, t_std = standardize(raw_tags)
        w = self.weights_for(profile)
        stats = (r_mean, r_std, float(m_mean[0]), float(m_std[0]), float(t_mean[0]), float(t_std[0]))
        return self._blend(z_ranker, z_mf, z_tags, w), w, stats, raw_tags

    def _blend(self, z_ranker: np.ndarray, z_mf: np.ndarray, z_tags: np.ndarray, w: Weights) -> np.ndarray:
        return (
            z_ranker * (1.0 + w.calibration / self._item_std)
            - w.calibration * self._item_mean / self._item_std
            + w.mf * z_mf
            + w.tags * z_tags
            - w.popularity * self._log_popularity
        )

    def scores(self, profile: UserProfile) -> np.ndarray:
        self._require_fitted()
        return self._parts(profile)[0]

    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        n = check_n(n)
        empty = None
        profiles = []
        for user_id in user_ids:
            profile = self.trained_profile(user_id)
            if profile is None:  # unknown user: the order of an empty profile
                empty = empty or self.profile(np.zeros(0, dtype=np.int64), np.zeros(0))
                profile = empty
            profiles.append(profile)
        parts = self._z_batch(profiles)
        rows = np.empty((len(profiles), self.n_items))
        for row, profile in enumerate(profiles):
            rows[row] = self._blend(parts[0][row], parts[1][row], parts[2][row], self.weights_for(profile))
        if exclude_seen:
            for row, profile in enumerate(profiles):
                codes = self._item_codes(profile.item_ids)
                rows[row, codes[codes >= 0]] = -np.inf
        top, scores = top_n_rows(rows, n)
        return ids_of(self.item_ids, top), scores

    def predict(self, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> np.ndarray:
        return self.mf.predict(user_ids, item_ids)

    def predict_profiles(self, profiles: Sequence[UserProfile], rows: Any, item_ids: Any) -> np.ndarray:
        return self.mf.predict_profiles([self._mf_profile(p) for p in profiles], rows, item_ids)

    def scores_for_ratings(self, profile: UserProfile, ratings: Any) -> np.ndarray:
        """A movie outside the catalogue, with a rating predicted for it: the ranker knows
        nothing of it (its average, z = 0), MF's part is that rating standardized like
        the rest, and it has no ratings for the popularity term."""
        _, mean, std = standardize(self.mf.scores(self._mf_profile(profile)))
        w = self.weights_for(profile)
        return w.mf * (np.asarray(ratings, dtype=np.float64) - float(mean[0])) / float(std[0])

    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self.ranker.similar_items(item_id, n)

    # ----------------------------------------------------------- explaining
    def explain(self, profile: UserProfile, item_id: Any) -> Explanation:
        """Each component's terms, scaled as the blend scales them, merged per rated movie."""
        return self.explain_many(profile, [item_id])[0]

    def explain_many(self, profile: UserProfile, item_ids: Sequence[Any]) -> list[Explanation]:
        """:meth:`explain` of several movies, scoring the profile once."""
        self._require_fitted()
        parts = self._parts(profile)
        return [self._explain_one(profile, item_id, *parts) for item_id in item_ids]

    def _explain_one(
        self, profile: UserProfile, item_id: Any, scores: np.ndarray, w: Weights, stats: tuple[float, ...],
        raw_tags: np.ndarray,
    ) -> Explanation:
        r_mean, r_std, m_mean, m_std, t_mean, t_std = stats
        code = int(self._item_codes([item_id])[0])
        if code < 0:
            raise UnknownIdError(f"unknown item_id {item_id!r}")
        mf_scale = w.mf / m_std
        ranker_scale = (1.0 + w.calibration / self._item_std[code]) / r_std
        mf_part = self.mf.explain(self._mf_profile(profile), item_id)
        baseline = -r_mean * ranker_scale - mf_scale * m_mean - w.tags * t_mean / t_std
        appeal = -(w.calibration * self._item_mean[code] / self._item_std[code]
                   + w.popularity * float(self._log_popularity[code]))
        tags = w.tags * float(raw_tags[code]) / t_std
        residual = 0.0
        shares: dict[Any, list[float]] = {}
        details: dict[Any, Term] = {}

        def add(term: Term, scale: float) -> None:
            nonlocal baseline, appeal, residual
            value = scale * term.value
            if term.kind == "rated_item":
                key = term.item_id.item() if hasattr(term.item_id, "item") else term.item_id
                shares.setdefault(key, []).append(value)
                details.setdefault(key, term)
            elif term.kind == "item_appeal":
                appeal += value
            elif term.kind == "residual":
                residual += value
            else:  # global mean, user bias, baselines: the same for every movie of this user
                baseline += value

        for term in mf_part.terms:
            add(term, mf_scale)
        if self._ranker_index[code] >= 0:
            for term in self.ranker.explain(self._ranker_profile(profile), item_id).terms:
                add(term, ranker_scale)
        else:  # outside the ranker's catalogue: it scored the movie at its lowest z
            residual += float(scores[code]) - (
                baseline + appeal + tags + residual + sum(sum(v) for v in shares.values())
            )
        terms = [Term("baseline", baseline), Term("item_appeal", appeal)]
        if w.tags:
            terms.append(Term("tags", tags))
        terms += [
            Term("rated_item", sum(values), item_id=key, rating=details[key].rating,
                 similarity=details[key].similarity)
            for key, values in shares.items()
        ]
        if residual:
            terms.append(Term("residual", residual))
        return Explanation(
            item_id=item_id,
            model_type=self.model_type,
            score=float(scores[code]),
            prediction=mf_part.prediction,
            terms=tuple(terms),
        )

    # ---------------------------------------------------------- persistence
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._require_fitted()
        arrays: dict[str, np.ndarray] = {
            "item_mean": self._item_mean, "item_std": self._item_std, **self._tags.to_arrays(),
        }
        meta: dict[str, Any] = {
            "model": "Ensemble",
            "params": self.params.model_dump(mode="json"),
            "weights": {**self.weights.as_dict(), **self.cold_weights.as_dict("cold_")},
            "fit_info": self.fit_info,
        }
        for prefix, component in (("mf", self.mf), ("ranker", self.ranker)):
            component_arrays, component_meta = component._to_arrays()
            arrays.update({f"{prefix}.{name}": value for name, value in component_arrays.items()})
            meta[prefix] = {**component_meta, "model_type": component.model_type}
        return arrays, meta

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Ensemble:
        from .persistence import ModelFileError
        from .types import model_class

        try:
            model = cls(EnsembleParams(**meta["params"]))
            parts = []
            for prefix in ("mf", "ranker"):
                component_meta = meta[prefix]
                component_arrays = {
                    name.removeprefix(f"{prefix}."): value
                    for name, value in arrays.items()
                    if name.startswith(f"{prefix}.")
                }
                parts.append(model_class(component_meta["model_type"])._from_arrays(component_arrays, component_meta))
            mf, ranker = parts
            w = meta["weights"]
            model._install(ranker, mf, Weights.from_dict(w), Weights.from_dict(w, "cold_"), None)
            model._tags = TagProfile.from_arrays(arrays, mf.n_items)
            model._item_mean = np.asarray(arrays["item_mean"], dtype=np.float64)
            model._item_std = np.asarray(arrays["item_std"], dtype=np.float64)
            if model._item_mean.shape != (model.n_items,) or model._item_std.shape != (model.n_items,):
                raise ValueError("item calibration does not match the catalogue")
            model.fit_info = dict(meta.get("fit_info", {}))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"ensemble file content is inconsistent: {exc}") from exc
        return model

    def __repr__(self) -> str:
        if not self._fitted:
            return f"Ensemble({self.params.ranker} + MF, unfitted)"
        w = self.weights
        return (f"Ensemble({self.params.ranker} with calibration {w.calibration}, {w.mf} x MF, "
                f"{w.popularity} x log pop; {self.n_users} users x {self.n_items} items)")
