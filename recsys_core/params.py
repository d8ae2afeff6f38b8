"""Validated hyperparameters of :class:`recsys_core.model.MatrixFactorization`.

Every field documents its allowed range. An out-of-range value raises
``pydantic.ValidationError`` whose message names the field and the range; an
unknown field (``learning_rate``, say: ALS has none) is refused rather than
silently ignored.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = ["EASEParams", "EnsembleParams", "IALSParams", "MFParams"]


def _in_range(lo: float, hi: float, *, lo_open: bool = False):
    """An ``AfterValidator`` that refuses values outside ``[lo, hi]`` (or ``(lo, hi]``)."""
    left = "(" if lo_open else "["

    def check(value: Any) -> Any:
        if value is None:
            return value
        too_low = value <= lo if lo_open else value < lo
        if too_low or value > hi or math.isnan(value):
            raise ValueError(f"must be in the range {left}{lo}, {hi}], got {value!r}")
        return value

    return AfterValidator(check)


class MFParams(BaseModel):
    """Hyperparameters of biased matrix factorization trained by ALS.

    The loss minimised is

        sum_(u,i) (r_ui - mu - b_u - b_i - x_u . y_i)^2
          + regularization * sum_u n_u^e |x_u|^2 + regularization * sum_i n_i^e |y_i|^2
          + bias_regularization * (sum_u b_u^2 + sum_i b_i^2)

    with ``e = regularization_exponent`` and ``n_u``/``n_i`` the rating counts
    (``e = 1`` is the weighted-lambda regularization of ALS-WR).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_factors: Annotated[int, _in_range(1, 1024)] = Field(
        15, description="Number of latent factors, in [1, 1024]."
    )
    regularization: Annotated[float, _in_range(0.0, 1e4, lo_open=True)] = Field(
        1.0, description="L2 penalty on factors (scaled by count**exponent), in (0, 1e4]."
    )
    regularization_exponent: Annotated[float, _in_range(0.0, 1.0)] = Field(
        0.55,
        description="Exponent e of the rating count that scales the factor penalty, in [0, 1].",
    )
    bias_regularization: Annotated[float, _in_range(0.0, 1e4, lo_open=True)] = Field(
        3.0, description="L2 penalty on user and item biases (not count-scaled), in (0, 1e4]."
    )
    epochs: Annotated[int, _in_range(1, 1000)] = Field(
        12, description="ALS epochs (one item half-step then one user half-step), in [1, 1000]."
    )
    init_std: Annotated[float, _in_range(0.0, 10.0, lo_open=True)] = Field(
        0.1, description="Standard deviation of the initial factors, in (0, 10]."
    )
    seed: Annotated[int, _in_range(0, 2**32 - 1)] = Field(
        0, description="Seed of the random generator, in [0, 2**32 - 1]."
    )
    early_stopping_patience: Annotated[int | None, _in_range(0, 1000)] = Field(
        None,
        description=(
            "Stop when validation RMSE has not improved for this many epochs, in [0, 1000]; "
            "0 or None disables early stopping. Needs `validation=` in fit."
        ),
    )
    early_stopping_tol: Annotated[float, _in_range(0.0, 1.0)] = Field(
        1e-4, description="Minimum RMSE decrease that counts as an improvement, in [0, 1]."
    )
    solver: Literal["compiled", "vectorized", "reference"] = Field(
        "compiled",
        description=(
            "'compiled' (default; numba), 'vectorized' (numpy) or 'reference', a slow per-row "
            "loop meant for tests. All three solve the same equations."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _explain_learning_rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "learning_rate" in data:
            raise ValueError(
                "learning_rate is not a hyperparameter of ALS (it has no step size); "
                "remove it. Tune regularization, n_factors and epochs instead."
            )
        return data

    @property
    def early_stopping(self) -> bool:
        """True when early stopping is enabled."""
        return bool(self.early_stopping_patience)


class EASEParams(BaseModel):
    """Hyperparameters of EASE (Steck 2019), the closed-form item-item model.

    ``B = argmin |X - X B|^2 + regularization |B|^2`` subject to ``diag(B) = 0``, with
    ``X`` the user x item matrix of weighted ratings (``rating_weights``: a 5-star movie
    counts 1, a 1-star one 0.1). A user's scores are their weighted rated vector times B.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    regularization: Annotated[float, _in_range(0.0, 1e7, lo_open=True)] = Field(
        200.0, description="L2 penalty lambda added to the Gram diagonal, in (0, 1e7]."
    )
    max_items: Annotated[int, _in_range(2, 40_000)] = Field(
        20_000,
        description=(
            "Most-rated items kept in B (memory grows with its square), in [2, 40000]; "
            "rarer items are not recommended by EASE."
        ),
    )
    rating_weights: tuple[float, float, float, float, float] = Field(
        (0.1, 0.25, 0.55, 0.85, 1.0),
        description=(
            "Weight of a rating at 0, 1/4, 1/2, 3/4 and all of the rating scale (1, 2, 3, 4, 5 "
            "stars on 1-5), interpolated between; each in [0, 1]. The matrix B is learned "
            "from, and scores are summed over, the ratings so weighted."
        ),
    )

    @model_validator(mode="after")
    def _weights_in_range(self) -> EASEParams:
        for k, weight in enumerate(self.rating_weights):
            if not 0.0 <= weight <= 1.0 or math.isnan(weight):
                raise ValueError(f"rating_weights[{k}] must be in the range [0, 1], got {weight!r}")
        if not any(self.rating_weights):
            raise ValueError("rating_weights must not all be 0")
        return self


class IALSParams(BaseModel):
    """Hyperparameters of implicit-feedback ALS (Hu, Koren, Volinsky 2008).

    Every rated movie is a positive with confidence ``1 + alpha * w(r)``; unrated
    movies are negatives of confidence 1. ``w`` grows with the rating, so a movie
    rated 5 counts more than one rated 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_factors: Annotated[int, _in_range(1, 1024)] = Field(32, description="Latent factors, in [1, 1024].")
    regularization: Annotated[float, _in_range(0.0, 1e4, lo_open=True)] = Field(
        50.0, description="L2 penalty on user and item factors, in (0, 1e4]."
    )
    alpha: Annotated[float, _in_range(0.0, 1e4)] = Field(
        5.0, description="Confidence added per unit of rating / top of the scale, in [0, 1e4]."
    )
    epochs: Annotated[int, _in_range(1, 1000)] = Field(15, description="ALS epochs, in [1, 1000].")
    seed: Annotated[int, _in_range(0, 2**32 - 1)] = Field(0, description="Random seed, in [0, 2**32 - 1].")
    solver: Literal["implicit", "numpy", "reference"] = Field(
        "implicit",
        description=(
            "How epochs are fitted: 'implicit' (the implicit package's conjugate gradient, default), "
            "'numpy' (exact Cholesky solves, no extra dependency) or 'reference' (a slow per-user "
            "loop meant for tests). The final user step and fold-in are exact in every case."
        ),
    )


class EnsembleParams(BaseModel):
    """Hyperparameters of the ensemble: a ranking model blended with MF's predicted rating.

    For one user, with ``z_c`` component ``c``'s scores standardized over the catalogue,
    and ``m_i``/``s_i`` the mean and spread of item ``i``'s ``z_ranker`` over the
    training users::

        score_i = z_ranker_i + calibration_weight * (z_ranker_i - m_i) / s_i
                  + mf_weight * z_mf_i + tag_weight * z_tags_i
                  - popularity_penalty * log(1 + n_i)

    The calibration term lifts movies the ranker scores unusually high *for this user*
    compared with everyone, which widens the catalogue at almost no cost in accuracy.
    Weights left null are chosen on a validation split carved from the training data.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ranker: Literal["ease", "ials"] = Field("ease", description="The ranking component: 'ease' or 'ials'.")
    ease: EASEParams = Field(default_factory=EASEParams, description="Hyperparameters of the EASE ranker.")
    ials: IALSParams = Field(default_factory=IALSParams, description="Hyperparameters of the iALS ranker.")
    mf: MFParams = Field(default_factory=MFParams, description="Hyperparameters of the rating model.")
    calibration_weight: Annotated[float | None, _in_range(0.0, 10.0)] = Field(
        None, description="Weight of the per-item calibrated ranker score, in [0, 10]; null: chosen on validation."
    )
    mf_weight: Annotated[float | None, _in_range(0.0, 10.0)] = Field(
        None, description="Weight of MF's standardized predicted rating, in [0, 10]; null: chosen on validation."
    )
    popularity_penalty: Annotated[float | None, _in_range(0.0, 10.0)] = Field(
        0.0, description="Weight of -log(1 + ratings of the movie), in [0, 10]; null: chosen on validation."
    )
    tag_weight: Annotated[float | None, _in_range(0.0, 10.0)] = Field(
        None,
        description=(
            "Weight of the user's standardized taste for the movie's tags (genres), in [0, 10]; "
            "null: chosen on validation. Used when training is given item tags."
        ),
    )
    cold_start_ratings: Annotated[int, _in_range(0, 1000)] = Field(
        20,
        description=(
            "Users with at most this many ratings are served with weights chosen on "
            "validation users cut down to half as many ratings, in [0, 1000]."
        ),
    )
    coverage_floor: Annotated[float, _in_range(0.0, 1.0)] = Field(
        0.25,
        description=(
            "Validation picks the weights with the best NDCG@10 among those whose catalogue "
            "coverage@10 reaches this floor (none does: the best NDCG), in [0, 1]."
        ),
    )
    validation_fraction: Annotated[float, _in_range(0.0, 0.5, lo_open=True)] = Field(
        0.15, description="Share of each user's training ratings held out to choose weights, in (0, 0.5]."
    )
    seed: Annotated[int, _in_range(0, 2**32 - 1)] = Field(0, description="Seed of the validation split.")
