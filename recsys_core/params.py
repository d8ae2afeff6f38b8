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

__all__ = ["MFParams"]


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
    solver: Literal["vectorized", "reference"] = Field(
        "vectorized",
        description="'vectorized' (default) or 'reference', a slow per-row loop meant for tests.",
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
