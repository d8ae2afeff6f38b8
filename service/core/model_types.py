"""The model types the service can train, described for clients (the dashboard's form)."""

from __future__ import annotations

from typing import Any

from recsys_core.types import DEFAULT_MODEL_TYPE, MODEL_TYPES, model_class, params_class

TITLES = {
    "ensemble": ("Ensemble (EASE + MF)", "A ranking model blended with MF's predicted rating; weights chosen on a "
                 "validation split. The best lists; /predict answers with its MF."),
    "ease": ("EASE (item-item)", "Closed-form item-item model (Steck 2019). Strong lists, instant real-time "
             "updates; ranks only, no predicted ratings. Memory grows with the catalogue squared."),
    "ials": ("Implicit ALS", "Implicit-feedback ALS on confidences derived from ratings. Wide catalogue "
             "coverage; ranks only, no predicted ratings."),
    "matrix_factorization": ("Matrix factorization (ALS)", "Biased MF for explicit ratings. The best rating "
                             "predictions; its lists lean towards acclaimed films."),
}


def gate_metric(model_type: str) -> str:
    """What a version of this type is judged on: its ranking if it ranks, else its RMSE."""
    return "rmse" if model_type == "matrix_factorization" else "ndcg"


def describe() -> list[dict[str, Any]]:
    out = []
    for model_type in MODEL_TYPES:
        params = params_class(model_type)
        title, description = TITLES[model_type]
        out.append({
            "model_type": model_type,
            "title": title,
            "description": description,
            "predicts_ratings": model_class(model_type).predicts_ratings,
            "is_default": model_type == DEFAULT_MODEL_TYPE,
            "gate_metric": gate_metric(model_type),
            "defaults": params().model_dump(mode="json"),
            "hyperparams_schema": params.model_json_schema(),
        })
    return out


def retrain_hyperparams(model_type: str, active_params: dict[str, Any] | None) -> dict[str, Any]:
    """A retrain keeps the active version's hyperparameters, else the type's defaults."""
    params_cls = params_class(model_type)
    return params_cls.model_validate(active_params or {}).model_dump(mode="json")
