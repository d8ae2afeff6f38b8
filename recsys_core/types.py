"""The model types by name: their classes, their validated hyperparameters, and a
discriminated union (:data:`ModelSpec`) that validates ``{"model_type", "hyperparams"}``
per type, so an error names the field and its allowed range."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from .params import EASEParams, EnsembleParams, IALSParams, MFParams
from .recommender import Recommender

__all__ = ["DEFAULT_MODEL_TYPE", "ENGINES", "MODEL_TYPES", "SPARK_TYPES", "Engine", "ModelSpec", "build_model", "load_model", "model_class", "params_class"]

ModelTypeName = Literal["ensemble", "ease", "ials", "matrix_factorization"]
MODEL_TYPES: tuple[str, ...] = ("ensemble", "ease", "ials", "matrix_factorization")
DEFAULT_MODEL_TYPE = "ensemble"
#: What trains a version: our numpy trainers, or Spark's ALS (recsys_core.spark_als).
Engine = Literal["numpy", "spark"]
ENGINES: tuple[str, ...] = ("numpy", "spark")
SPARK_TYPES: tuple[str, ...] = ("matrix_factorization", "ials")  # the types Spark can train

_CLASSES = {  # imported on first use: importing recsys_core stays cheap
    "matrix_factorization": ("recsys_core.model", "MatrixFactorization"),
    "ease": ("recsys_core.ease", "EASE"),
    "ials": ("recsys_core.ials", "ImplicitALS"),
    "ensemble": ("recsys_core.ensemble", "Ensemble"),
}
_PARAMS: dict[str, type[BaseModel]] = {
    "matrix_factorization": MFParams,
    "ease": EASEParams,
    "ials": IALSParams,
    "ensemble": EnsembleParams,
}


def _check(model_type: str) -> str:
    if model_type not in _CLASSES:
        raise ValueError(f"unknown model_type {model_type!r}; one of {', '.join(MODEL_TYPES)}")
    return model_type


def model_class(model_type: str) -> type[Recommender]:
    module, name = _CLASSES[_check(model_type)]
    return getattr(importlib.import_module(module), name)


def params_class(model_type: str) -> type[BaseModel]:
    return _PARAMS[_check(model_type)]


def build_model(model_type: str, hyperparams: dict[str, Any] | BaseModel | None = None) -> Recommender:
    """An unfitted model of this type; ``hyperparams`` are validated by its params class."""
    params_cls = params_class(model_type)
    if isinstance(hyperparams, BaseModel):
        params = params_cls.model_validate(hyperparams.model_dump())
    else:
        params = params_cls.model_validate(hyperparams or {})
    return model_class(model_type)(params)


def load_model(data: bytes) -> Recommender:
    """Any model written by ``to_bytes``, of whichever type its file says."""
    return Recommender.from_bytes(data)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


_TYPE = "The model type to train; without one, the ensemble."
_HYPERPARAMS = "Hyperparameters of the type; those left out take their defaults."
_ENGINE = (
    "What trains it: 'numpy' (default, in the worker) or 'spark' (Spark's ALS on SPARK_MASTER_URL); "
    "'spark' only for matrix_factorization and ials."
)


class _NumpyOnly(_Spec):
    """A type only our own trainers fit: ``engine`` must be numpy."""

    engine: Engine = Field("numpy", description=_ENGINE)

    @field_validator("engine")
    @classmethod
    def _numpy_only(cls, value: str) -> str:
        if value != "numpy":
            raise ValueError(
                f"engine {value!r} trains only {' and '.join(SPARK_TYPES)}; this type trains with engine 'numpy'"
            )
        return value


class MFSpec(_Spec):
    model_type: Literal["matrix_factorization"] = Field("matrix_factorization", description=_TYPE)
    hyperparams: MFParams = Field(default_factory=MFParams, description=_HYPERPARAMS)
    engine: Engine = Field("numpy", description=_ENGINE)


class EASESpec(_NumpyOnly):
    model_type: Literal["ease"] = Field("ease", description=_TYPE)
    hyperparams: EASEParams = Field(default_factory=EASEParams, description=_HYPERPARAMS)


class IALSSpec(_Spec):
    model_type: Literal["ials"] = Field("ials", description=_TYPE)
    hyperparams: IALSParams = Field(default_factory=IALSParams, description=_HYPERPARAMS)
    engine: Engine = Field("numpy", description=_ENGINE)


class EnsembleSpec(_NumpyOnly):
    model_type: Literal["ensemble"] = Field("ensemble", description=_TYPE)
    hyperparams: EnsembleParams = Field(default_factory=EnsembleParams, description=_HYPERPARAMS)


def _model_type_of(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("model_type", DEFAULT_MODEL_TYPE)
    return getattr(value, "model_type", DEFAULT_MODEL_TYPE)


# A missing model_type means the default type; the tag picks the hyperparameters' class.
ModelSpec = Annotated[
    Annotated[EnsembleSpec, Tag("ensemble")]
    | Annotated[EASESpec, Tag("ease")]
    | Annotated[IALSSpec, Tag("ials")]
    | Annotated[MFSpec, Tag("matrix_factorization")],
    Discriminator(_model_type_of, custom_error_type="unknown_model_type",
                  custom_error_message=f"model_type must be one of {', '.join(MODEL_TYPES)}"),
]
