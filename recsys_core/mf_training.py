"""Training of biased matrix factorization by alternating least squares.

:class:`ALSTrainer` holds the state of the epoch loop (like LensKit's
``BiasedMFTrainer``): the rating matrices, penalties, current factors, history and
the best epoch for early stopping. One epoch alternates vectorized half-steps
(:mod:`recsys_core._als`): items given users, then users given items. A last user
half-step in float64 makes every stored user vector the exact regularized
least-squares solve against the final item side, which is what lets
``user_states`` of a user's own ratings reproduce it and ``explain`` sum exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _als
from ._frames import EncodedRatings
from .params import MFParams
from .recommender import EpochReport

__all__ = ["ALSTrainer", "Factors", "NonFiniteFactorsError", "TrainingResult", "penalties"]

# Gram matrices are accumulated in float32 (about 2x faster, same RMSE to 1e-4);
# solves and stored factors are float64.
_GRAM_DTYPE = np.float32


def penalties(p: MFParams, counts: np.ndarray) -> np.ndarray:
    """The ridge penalty diagonal of rows with these rating counts (see :mod:`._als`)."""
    return _als.penalty_diagonal(counts, p.n_factors, p.regularization, p.bias_regularization, p.regularization_exponent)


class NonFiniteFactorsError(ArithmeticError):
    """Training produced NaN or infinite factors (diverged or bad input)."""


@dataclass(frozen=True)
class Factors:
    """What MF learns besides the global mean: a bias and factors per user and item."""

    user_bias: np.ndarray
    user_factors: np.ndarray
    item_bias: np.ndarray
    item_factors: np.ndarray

    def copy(self) -> Factors:
        return Factors(*(a.copy() for a in (self.user_bias, self.user_factors, self.item_bias, self.item_factors)))

    def predict_codes(self, mu: float, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Unclipped ``mu + b_u + b_i + x_u . y_i`` of aligned index pairs; an unknown
        side (index -1) contributes nothing."""
        ku, ki = u >= 0, i >= 0
        pred = np.full(len(u), mu)
        pred[ku] += self.user_bias[u[ku]]
        pred[ki] += self.item_bias[i[ki]]
        both = ku & ki
        if both.any():
            pred[both] += np.einsum("ij,ij->i", self.user_factors[u[both]], self.item_factors[i[both]])
        return pred


@dataclass(frozen=True)
class TrainingResult:
    factors: Factors
    history: list[EpochReport]
    best_epoch: int
    stopped: str  # "completed", "callback" or "early_stopping"


class ALSTrainer:
    """The loop state of one ALS fit: ``ALSTrainer(...).run(callback)``."""

    def __init__(
        self,
        params: MFParams,
        data: EncodedRatings,
        global_mean: float,
        validation: pd.DataFrame | None = None,
    ) -> None:
        p = self.params = params
        self.by_user = data.by_user
        self.by_item: sp.csr_matrix = data.by_user.T.tocsr()
        self.by_item.sort_indices()
        self.mu = global_mean
        self.scale = data.rating_scale
        self.res_user = self.by_user.data - global_mean
        self.res_item = self.by_item.data - global_mean
        self.user_counts = np.diff(self.by_user.indptr).astype(np.int64)
        self.item_counts = np.diff(self.by_item.indptr).astype(np.int64)
        self.pen_user, self.pen_item = penalties(p, self.user_counts), penalties(p, self.item_counts)
        n_u, n_i = self.by_user.shape
        rng = np.random.default_rng(p.seed)
        user_factors = rng.normal(0.0, p.init_std, (n_u, p.n_factors))
        item_factors = rng.normal(0.0, p.init_std, (n_i, p.n_factors))
        self.factors = Factors(np.zeros(n_u), user_factors, np.zeros(n_i), item_factors)
        self.validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if validation is not None and len(validation):
            self.validation = (
                data.users.lookup(validation["user_id"]),
                data.items.lookup(validation["item_id"]),
                validation["rating"].to_numpy(dtype=np.float64),
            )
        self.early = p.early_stopping and self.validation is not None
        self.best: tuple[float, int, Factors] | None = None  # validation RMSE, epoch, factors
        self.stale = 0  # epochs since the best one
        self.history: list[EpochReport] = []

    def run(self, callback: Callable[[EpochReport], Any] | None = None) -> TrainingResult:
        """All epochs, or until ``callback`` returns ``False`` or early stopping fires."""
        stopped = "completed"
        for _ in range(self.params.epochs):
            report = self.epoch()
            if callback is not None and callback(report) is False:
                stopped = "callback"
                break
            if self.early and self.stale >= (self.params.early_stopping_patience or 0):
                stopped = "early_stopping"
                break
        return self.finish(stopped)

    def epoch(self) -> EpochReport:
        """One item half-step then one user half-step; returns its report."""
        p, f = self.params, self.factors
        epoch = len(self.history) + 1
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            step_i = _als.solve_side(
                self.by_item, self.res_item, f.user_bias, f.user_factors, self.pen_item,
                solver=p.solver, dtype=_GRAM_DTYPE,
            )
            step_u = _als.solve_side(
                self.by_user, self.res_user, step_i.bias, step_i.factors, self.pen_user,
                solver=p.solver, dtype=_GRAM_DTYPE,
            )
        f = self.factors = Factors(step_u.bias, step_u.factors, step_i.bias, step_i.factors)
        _check_finite(f, epoch)
        n = float(self.by_user.nnz)
        sse = float(step_u.sse.sum())
        item_pen = float(np.einsum("ij,ij->", self.pen_item[:, 1:], f.item_factors**2))
        item_pen += p.bias_regularization * float(f.item_bias @ f.item_bias)
        val_rmse = None
        if self.validation is not None:
            u, i, r = self.validation
            pred = np.clip(f.predict_codes(self.mu, u, i), *self.scale)
            val_rmse = float(np.sqrt(np.mean((pred - r) ** 2)))
        report = EpochReport(
            epoch=epoch,
            epochs=p.epochs,
            train_loss=(sse + float(step_u.penalty.sum()) + item_pen) / n,
            train_rmse=float(np.sqrt(sse / n)),
            validation_rmse=val_rmse,
            seconds=time.perf_counter() - t0,
        )
        self.history.append(report)
        if self.early:
            self._track_best(val_rmse, epoch)  # type: ignore[arg-type]
        return report

    def _track_best(self, val_rmse: float, epoch: int) -> None:
        if self.best is None or val_rmse < self.best[0] - self.params.early_stopping_tol:
            self.best = (val_rmse, epoch, self.factors.copy())
            self.stale = 0
        else:
            self.stale += 1

    def finish(self, stopped: str) -> TrainingResult:
        """The best epoch's factors (or the last's), users re-solved in float64."""
        best_epoch = len(self.history)
        f = self.factors
        if self.best is not None:
            _, best_epoch, f = self.best
        final = _als.solve_side(
            self.by_user, self.res_user, f.item_bias, f.item_factors, self.pen_user,
            solver=self.params.solver, dtype=np.float64,
        )
        factors = replace(
            f,
            user_bias=final.bias,
            user_factors=np.ascontiguousarray(final.factors),
            item_factors=np.ascontiguousarray(f.item_factors),
        )
        return TrainingResult(factors, self.history, best_epoch, stopped)


def _check_finite(f: Factors, epoch: int) -> None:
    for name, arr in (
        ("user factors", f.user_factors),
        ("item factors", f.item_factors),
        ("user biases", f.user_bias),
        ("item biases", f.item_bias),
    ):
        if not np.isfinite(arr).all():
            raise NonFiniteFactorsError(
                f"{name} became NaN/inf at epoch {epoch}; increase regularization "
                "or check the ratings for extreme values"
            )
