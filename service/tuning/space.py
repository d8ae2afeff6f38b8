"""Search spaces: which hyperparameters a study varies, over which ranges.

A space maps a hyperparameter's name (dotted for the ensemble's components:
``mf.n_factors``) to a range (``int``/``float``, optionally on a log scale) or a list of
choices. Every bound and choice is checked against the type's own params class, so a
space cannot reach a value a training job would refuse, and an error names the field."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recsys_core.types import params_class
from service.core.errors import InvalidInput


class IntRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["int"] = Field(description="An integer range.")
    low: int = Field(description="The smallest value tried.")
    high: int = Field(description="The largest value tried.")
    log: bool = Field(default=False, description="Sample on a log scale (low must then be at least 1).")


class FloatRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["float"] = Field(description="A real range.")
    low: float = Field(description="The smallest value tried.")
    high: float = Field(description="The largest value tried.")
    log: bool = Field(default=False, description="Sample on a log scale (low must then be above 0).")


class Choices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["categorical"] = Field(description="A list of values.")
    choices: list[str | int | float | bool | None] = Field(
        min_length=1, max_length=100, description="The values tried."
    )


Dimension = Annotated[IntRange | FloatRange | Choices, Field(discriminator="type")]
Space = dict[str, Dimension]

# Per type: what matters most, over ranges that a few dozen trials can cover on
# MovieLens-sized data. Epochs stay in the range where one trial takes seconds.
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    # Around the defaults, which are already good on MovieLens: a wide space spends a
    # 30-trial budget on corners the validation split cannot tell apart from noise.
    "matrix_factorization": {
        "n_factors": {"type": "int", "low": 8, "high": 64, "log": True},
        "regularization": {"type": "float", "low": 0.2, "high": 5.0, "log": True},
        "regularization_exponent": {"type": "float", "low": 0.3, "high": 0.9},
        "bias_regularization": {"type": "float", "low": 0.5, "high": 10.0, "log": True},
        "epochs": {"type": "int", "low": 10, "high": 30},
    },
    "ease": {
        "regularization": {"type": "float", "low": 10.0, "high": 5000.0, "log": True},
    },
    "ials": {
        "n_factors": {"type": "int", "low": 8, "high": 128, "log": True},
        "regularization": {"type": "float", "low": 1.0, "high": 500.0, "log": True},
        "alpha": {"type": "float", "low": 0.5, "high": 50.0, "log": True},
        "epochs": {"type": "int", "low": 5, "high": 25},
    },
    "ensemble": {
        "ease.regularization": {"type": "float", "low": 20.0, "high": 3000.0, "log": True},
        "mf.n_factors": {"type": "int", "low": 4, "high": 64, "log": True},
        "mf.regularization": {"type": "float", "low": 0.1, "high": 30.0, "log": True},
        "popularity_penalty": {"type": "float", "low": 0.0, "high": 0.6},
        "coverage_floor": {"type": "float", "low": 0.0, "high": 0.4},
    },
}


def default_space(model_type: str) -> dict[str, dict[str, Any]]:
    return DEFAULT_SPACES[model_type]


def merged(base: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """``base`` (nested) with the trial's ``flat`` values laid over it."""
    out = _deep_copy(base)
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


def _deep_copy(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in value.items()}


def hyperparams(model_type: str, base: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """The validated hyperparameters of one trial (defaults filled in)."""
    return params_class(model_type).model_validate(merged(base, flat)).model_dump(mode="json")


def check_space(model_type: str, space: dict[str, Dimension], base: dict[str, Any]) -> None:
    """InvalidInput naming ``space.<name>[.low|.high|.choices[i]]`` for an unknown
    hyperparameter, an empty or reversed range, a log range reaching 0, or a value the
    type's params class refuses."""
    if not space:
        raise InvalidInput("the search space is empty: name at least one hyperparameter", field="space")
    for name, dimension in space.items():
        field = f"space.{name}"
        annotation = _check_known(model_type, name, field)
        if isinstance(dimension, FloatRange) and _integral(annotation):
            # Else every trial would draw 3.7 for an integer and fail.
            raise InvalidInput(f"{name} takes integers: use a range of type int", field=f"{field}.type")
        if isinstance(dimension, Choices):
            for position, choice in enumerate(dimension.choices):
                _check_value(model_type, base, name, choice, f"{field}.choices[{position}]")
            continue
        if dimension.low >= dimension.high:
            raise InvalidInput(f"{name}: low ({dimension.low}) must be below high ({dimension.high})",
                               field=f"{field}.low")
        if dimension.log and dimension.low <= 0:
            raise InvalidInput(f"{name}: a log range needs low above 0, got {dimension.low}", field=f"{field}.low")
        for end in ("low", "high"):
            _check_value(model_type, base, name, getattr(dimension, end), f"{field}.{end}")


def _check_known(model_type: str, name: str, field: str) -> Any:
    """The hyperparameter's type, once its name is known to be one."""
    params: type[BaseModel] | None = params_class(model_type)
    annotation: Any = None
    for part in name.split("."):
        info = params.model_fields.get(part) if params is not None else None
        if info is None:
            raise InvalidInput(f"{part!r} is not a hyperparameter of {model_type} ({name})", field=field)
        annotation = info.annotation
        params = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if params is not None:
        raise InvalidInput(f"{name} is a group of hyperparameters; name one of its fields ({name}.…)", field=field)
    return annotation


def _integral(annotation: Any) -> bool:
    kinds = set(get_args(annotation)) - {type(None)} or {annotation}
    return kinds == {int}


def _check_value(model_type: str, base: dict[str, Any], name: str, value: Any, field: str) -> None:
    try:
        hyperparams(model_type, base, {name: value})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{name}={value!r}: {first['msg']}", field=field) from exc


def check_base(model_type: str, base: dict[str, Any]) -> None:
    try:
        params_class(model_type).model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=f"base_hyperparams.{where}" if where else
                           "base_hyperparams") from exc


def starting_point(model_type: str, space: dict[str, dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
    """The type's defaults (with ``base``) where the space contains them: the study's
    first trial, so its best is never worse on validation than what it would replace."""
    flat = _flatten(hyperparams(model_type, base, {}))
    point: dict[str, Any] = {}
    for name, dimension in space.items():
        value = flat.get(name)
        if dimension["type"] == "categorical":
            if value in dimension["choices"]:
                point[name] = value
        elif value is not None and dimension["low"] <= value <= dimension["high"]:
            point[name] = value
    return point


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The trial's values, drawn by Optuna's sampler (TPE) from the stored space."""
    values: dict[str, Any] = {}
    for name, dimension in space.items():
        kind = dimension["type"]
        if kind == "int":
            values[name] = trial.suggest_int(name, dimension["low"], dimension["high"], log=dimension.get("log", False))
        elif kind == "float":
            values[name] = trial.suggest_float(name, dimension["low"], dimension["high"],
                                               log=dimension.get("log", False))
        else:
            values[name] = trial.suggest_categorical(name, dimension["choices"])
    return values
