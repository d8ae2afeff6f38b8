"""The model types the service can train, each with its validated hyperparameters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from recsys_core.params import MFParams

MODEL_TYPES: dict[str, type[BaseModel]] = {"matrix_factorization": MFParams}


def retrain_hyperparams(model_type: str, active_type: str | None, active_params: dict[str, Any] | None) -> dict[str, Any]:
    """A retrain keeps the active version's hyperparameters, else the defaults."""
    params_cls = MODEL_TYPES[model_type]
    if active_type == model_type and active_params is not None:
        return params_cls.model_validate(active_params).model_dump(mode="json")
    return params_cls().model_dump(mode="json")
