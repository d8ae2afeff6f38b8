"""Examples for the OpenAPI document, from a run of the service on MovieLens ml-100k.

The routes show them on their bodies and responses (see api/openapi.py for why there and
not on the schemas). tests/service/test_openapi.py checks each against its schema and its
route's model, and that a response example is exactly what the service would write, so a
change that makes one wrong fails a test instead of misleading a reader. Hyperparameters
come from the params classes, so their defaults cannot go stale.
"""

from __future__ import annotations

from typing import Any

from recsys_core.params import EnsembleParams, MFParams
from service.core.model_types import TITLES, gate_metric
from service.tuning.space import DEFAULT_SPACES

HEALTH: dict[str, Any] = {"status": "ok"}
READY: dict[str, Any] = {
    "ready": True, "database": True, "broker": None, "model_version": 3, "active_version": 3,
    "model_loaded": True, "detail": None,
    "serving": {"users": 943, "movies": 1682, "resyncs": 0, "feed_connected": None, "loaded_at": 1796283179.43},
}
# Version 3 was activated through another process a moment ago; this one still serves 2.
NOT_READY: dict[str, Any] = {**READY, "ready": False, "model_version": 2}

STAR_WARS_GENRES = ["Action", "Adventure", "Romance", "Sci-Fi", "War"]
STAR_WARS: dict[str, Any] = {
    "title": "Star Wars", "year": 1977, "genres": STAR_WARS_GENRES, "id": 50, "n_ratings": 583, "mean_rating": 4.3585,
}
MOVIES_PAGE: dict[str, Any] = {
    "data": [
        STAR_WARS,
        {"title": "Stargate", "year": 1994, "genres": ["Action", "Adventure", "Sci-Fi"], "id": 62,
         "n_ratings": 127, "mean_rating": 3.1417},
    ],
    "count": 12, "page": 1, "page_size": 2,
}
# ml-100k ends in April 1998: the next free id is 1683.
NEW_MOVIE: dict[str, Any] = {"id": 1683, "title": "Matrix, The", "year": 1999, "genres": ["Action", "Sci-Fi", "Thriller"]}
NEW_MOVIE_CREATED: dict[str, Any] = {
    "title": "Matrix, The", "year": 1999, "genres": ["Action", "Sci-Fi", "Thriller"], "id": 1683,
    "n_ratings": 0, "mean_rating": None,
}

RATE: dict[str, Any] = {"user_id": 196, "movie_id": 50, "rating": 4.0}
RATE_AT: dict[str, Any] = {"user_id": 196, "movie_id": 181, "rating": 3.5, "timestamp": 881251955}
RATE_BATCH: dict[str, Any] = {"ratings": [
    {"user_id": 944, "movie_id": 50, "rating": 5.0},
    {"user_id": 944, "movie_id": 181, "rating": 4.0},
    {"user_id": 196, "movie_id": 172, "rating": 4.0},
]}
RATING: dict[str, Any] = {"user_id": 196, "movie_id": 242, "rating": 3.0, "timestamp": 881250949}
RATING_SCALE: dict[str, Any] = {"min": 0.5, "max": 5.0}
USER_RATINGS: list[dict[str, Any]] = [
    {"user_id": 196, "movie_id": 110, "rating": 1.0, "timestamp": 881252305},
    {"user_id": 196, "movie_id": 94, "rating": 3.0, "timestamp": 881252172},
    {"user_id": 196, "movie_id": 1118, "rating": 4.0, "timestamp": 881252128},
]
FOLD_IN: dict[str, Any] = {"model_version": 3, "folded_in": True, "latency_ms": 0.81, "predicted_before": 4.05}
UNRATED: dict[str, Any] = {"model_version": 3, "folded_in": True, "latency_ms": 0.68, "predicted_before": None}
RATING_ACCEPTED: dict[str, Any] = {
    "rating": {"user_id": 196, "movie_id": 50, "rating": 4.0, "timestamp": 1796283198},
    "replaced": False,
    "fold_in": FOLD_IN,
}
# One fold-in per user: 944 and 196.
RATING_BATCH_ACCEPTED: dict[str, Any] = {
    "count": 3,
    "fold_in": [
        {"model_version": 3, "folded_in": True, "latency_ms": 0.83, "predicted_before": 4.04},
        {"model_version": 3, "folded_in": True, "latency_ms": 0.83, "predicted_before": 3.97},
    ],
}

STATS: dict[str, Any] = {
    "users": 943, "movies": 1682, "ratings": 100000,
    "first_rating_at": "1997-09-20T03:05:10Z", "last_rating_at": "1998-04-22T23:10:38Z",
    "days": 3,
    "window": "calendar",
    "per_day": [
        {"day": "1998-04-20", "ratings": 193},
        {"day": "1998-04-21", "ratings": 120},
        {"day": "1998-04-22", "ratings": 536},
    ],
}

IMPORT_RESULT: dict[str, Any] = {
    "dataset": "ml-100k", "movies": 1682, "existing_movies": 0, "movies_policy": "keep", "genres": 2891,
    "ratings": 100000, "users_changed": 943, "users_refolded": 0,
}

MF_JOB_ID = "51b8c25e-1f11-4e0c-a6c2-7f6668e11ffa"
RETRAIN_JOB_ID = "50db50a1-ee0a-4526-a4b9-11c1525e4e4c"
STATUS_URL = "/api/ml/training-status/{}"

TRAIN_MF_REQUEST: dict[str, Any] = {"model_type": "matrix_factorization", "hyperparams": {"n_factors": 20, "epochs": 40}}
TRAIN_SPARK_REQUEST: dict[str, Any] = {"model_type": "matrix_factorization", "engine": "spark"}
MF_HYPERPARAMS = MFParams(n_factors=20, epochs=40).model_dump(mode="json")
ENSEMBLE_HYPERPARAMS = EnsembleParams().model_dump(mode="json")

MODEL_TYPE_INFO: dict[str, Any] = {
    "model_type": "matrix_factorization",
    "title": TITLES["matrix_factorization"][0],
    "description": TITLES["matrix_factorization"][1],
    "predicts_ratings": True,
    "is_default": False,
    "gate_metric": gate_metric("matrix_factorization"),
    "defaults": MFParams().model_dump(mode="json"),
    "hyperparams_schema": MFParams.model_json_schema(),
}

EPOCHS: list[dict[str, Any]] = [
    {"epoch": epoch, "train_loss": loss, "train_rmse": train, "validation_rmse": validation,
     "validation_ndcg": None, "seconds": seconds}
    for epoch, loss, train, validation, seconds in [
        (1, 0.8571, 0.8954, 0.9402, 0.018),
        (2, 0.8264, 0.8567, 0.9292, 0.021),
        (3, 0.7989, 0.8019, 0.9152, 0.017),
        (4, 0.7889, 0.7742, 0.9106, 0.019),
        (5, 0.7846, 0.7611, 0.9088, 0.022),
        (6, 0.7822, 0.7542, 0.9077, 0.022),
    ]
]

# Six of 40 epochs done: the curve is the first 60% of a job's progress (training/pipeline.py).
RUNNING_JOB: dict[str, Any] = {
    "id": MF_JOB_ID,
    "kind": "train",
    "model_type": "matrix_factorization",
    "hyperparams": MF_HYPERPARAMS,
    "engine": "numpy",
    "status": "running",
    "progress": 0.09,
    "current_epoch": 6,
    "total_epochs": 40,
    "history": EPOCHS,
    "error": None,
    "model_version": None,
    "cancel_requested": False,
    "attempts": 1,
    "created_at": "2026-12-03T07:33:22.951074Z",
    "started_at": "2026-12-03T07:33:23.876848Z",
    "finished_at": None,
    "duration_seconds": 0.87,
    "eta_seconds": 8.8,
}
CANCEL_REQUESTED_JOB: dict[str, Any] = {**RUNNING_JOB, "cancel_requested": True}

JOB_ACCEPTED: dict[str, Any] = {"job_id": MF_JOB_ID, "status": "queued", "status_url": STATUS_URL.format(MF_JOB_ID)}
JOBS_ACCEPTED: dict[str, Any] = {
    "jobs": [{"job_id": RETRAIN_JOB_ID, "status": "queued", "status_url": STATUS_URL.format(RETRAIN_JOB_ID)}]
}

METRIC_VALUES: dict[str, float] = {
    "rmse": 0.9115, "mae": 0.7169, "n_test": 20000.0, "precision@10": 0.2433, "recall@10": 0.2796,
    "ndcg@10": 0.3419, "map@10": 0.2086, "hit_rate@10": 0.8613, "catalog_coverage@10": 0.2658,
    "candidate_precision@10": 0.7148, "candidate_recall@10": 0.5667, "candidate_ndcg@10": 0.8524,
}
METRICS: dict[str, Any] = {
    "model_version": 3, "created_at": "2026-12-03T07:34:01.578106Z", "protocol": "user_holdout",
    "k": 10, "n_test": 20000, "values": METRIC_VALUES,
}
MODEL_VERSION: dict[str, Any] = {
    "version": 3,
    "model_type": "ensemble",
    "hyperparams": ENSEMBLE_HYPERPARAMS,
    "engine": "numpy",
    "status": "ready",
    "is_active": True,
    "created_at": "2026-12-03T07:34:01.575929Z",
    "trained_at": "2026-12-03T07:34:01.574201Z",
    "activated_at": "2026-12-03T07:34:01.610689Z",
    "n_train_ratings": 100000,
    "n_users": 943,
    "n_items": 1682,
    "data_fingerprint": "bacd7205b8ecce9b8014e81a3c60c7a6a9e87e76487d7667db2485e35a9418fa",
    "artifact_checksum": "87cb983982eeac834402595ebaa33a6d673801d12258d1e9c057de1cf39346e4",
    "artifact_size": 14996716,
    "job_id": RETRAIN_JOB_ID,
    "holdout_rmse": METRIC_VALUES["rmse"],
    "holdout_ndcg": METRIC_VALUES["ndcg@10"],
    "metrics": METRIC_VALUES,
    "gate_activated": True,
    "gate_reason": "activated: holdout NDCG 0.3419 against v2's 0.3390, no worse",
}

LIVE_METRICS: dict[str, Any] = {
    "model_version": 3, "window": 500, "n": 4, "rmse": 1.2738, "mae": 0.9096, "holdout_rmse": 0.9115,
    "drift": False, "drift_margin": 0.1,
    "hourly": [{"hour": "2026-12-03T07:00:00Z", "n": 4, "rmse": 1.2738, "mae": 0.9096}],
}

STAR_WARS_WHY = (
    "Predicted 4.6 for Star Wars; mostly because you liked Return of the Jedi (5) (+15.3), you liked "
    "Empire Strikes Back, The (4) (+5.2), you liked Toy Story (4) (+4.8); you rate Action (+0.8) and "
    "Adventure (+0.8) above your average."
)


def _item(movie_id: int, title: str, year: int, genres: list[str], score: float, predicted: float | None,
          explanation: str | None = None) -> dict[str, Any]:
    return {"movie_id": movie_id, "title": title, "year": year, "genres": genres, "score": score,
            "predicted_rating": predicted, "explanation": explanation}


# User 9001 rated Return of the Jedi 5, Empire Strikes Back 4, Toy Story 4 and Silence of the Lambs 2.
PERSONALIZED: dict[str, Any] = {
    "user_id": 9001, "model_version": 3, "model_type": "ensemble", "strategy": "personalized",
    "items": [
        _item(50, "Star Wars", 1977, STAR_WARS_GENRES, 26.8915, 4.5848),
        _item(174, "Raiders of the Lost Ark", 1981, ["Action", "Adventure"], 10.8615, 4.2579),
        _item(210, "Indiana Jones and the Last Crusade", 1989, ["Action", "Adventure"], 7.8011, 4.0065),
    ],
    "experiment_id": None, "arm": None,
}
PERSONALIZED_EXPLAINED: dict[str, Any] = {
    **PERSONALIZED, "items": [_item(50, "Star Wars", 1977, STAR_WARS_GENRES, 26.8915, 4.5848, STAR_WARS_WHY)],
}
POPULARITY_FALLBACK: dict[str, Any] = {
    "user_id": 5000, "model_version": None, "model_type": None, "strategy": "popularity_fallback",
    "items": [
        _item(318, "Schindler's List", 1993, ["Drama", "War"], 4.4360, None),
        _item(483, "Casablanca", 1942, ["Drama", "Romance", "War"], 4.4202, None),
    ],
    "experiment_id": None, "arm": None,
}
GENRE_FALLBACK: dict[str, Any] = {
    "user_id": 5000, "model_version": None, "model_type": None, "strategy": "genre_fallback",
    "items": [
        _item(50, "Star Wars", 1977, STAR_WARS_GENRES, 4.3445, None),
        _item(127, "Godfather, The", 1972, ["Action", "Crime", "Drama"], 4.2655, None),
    ],
    "experiment_id": None, "arm": None,
}

PREDICT_REQUEST: dict[str, Any] = {"user_id": 196, "movie_id": 50}
PREDICTION: dict[str, Any] = {
    "user_id": 196, "movie_id": 50, "predicted_rating": 4.0452, "model_version": 3, "model_type": "ensemble",
    "known_user": True, "known_movie": True, "experiment_id": None, "arm": None,
}
PREDICT_BATCH_REQUEST: dict[str, Any] = {"pairs": [{"user_id": 196, "movie_id": 50}, {"user_id": 196, "movie_id": 181}]}
PREDICT_BATCH: dict[str, Any] = {
    "model_version": 3, "model_type": "ensemble",
    "predictions": [PREDICTION, {**PREDICTION, "movie_id": 181, "predicted_rating": 3.6933}],
}


def _rated(movie_id: int, title: str, rating: float, value: float) -> dict[str, Any]:
    return {"kind": "rated_item", "label": f"you rated {title}", "value": value, "movie_id": movie_id,
            "your_rating": rating}


def _term(kind: str, label: str, value: float) -> dict[str, Any]:
    return {"kind": kind, "label": label, "value": value, "movie_id": None, "your_rating": None}


def _genre(genre: str) -> dict[str, Any]:
    return {"genre": genre, "affinity": 0.75, "n_rated": 2, "drove_match": True}


EXPLANATION: dict[str, Any] = {
    "user_id": 9001, "movie_id": 50, "title": "Star Wars", "model_version": 3, "model_type": "ensemble",
    "score": 26.8915, "predicted_rating": 4.5848,
    "terms": [
        _term("baseline", "your scores' baseline (the same for every movie)", -0.1539),
        _term("item_appeal", "the movie's own appeal to everyone", 0.2981),
        _term("tags", "your taste for the movie's genres", 0.5952),
        _rated(1, "Toy Story", 4.0, 4.7530),
        _rated(98, "Silence of the Lambs, The", 2.0, 0.9165),
        _rated(172, "Empire Strikes Back, The", 4.0, 5.2107),
        _rated(181, "Return of the Jedi", 5.0, 15.2719),
    ],
    "because_you_rated": [
        {"movie_id": 181, "title": "Return of the Jedi", "your_rating": 5.0, "similarity": 0.9401,
         "contribution": 15.2719},
        {"movie_id": 172, "title": "Empire Strikes Back, The", "your_rating": 4.0, "similarity": 0.9738,
         "contribution": 5.2107},
        {"movie_id": 1, "title": "Toy Story", "your_rating": 4.0, "similarity": 0.3176, "contribution": 4.7530},
    ],
    "genre_matches": [_genre(g) for g in STAR_WARS_GENRES],
    "similar_users": [
        {"user_id": 588, "similarity": 0.9446, "rating": 5.0},
        {"user_id": 14, "similarity": 0.9428, "rating": 5.0},
        {"user_id": 466, "similarity": 0.9428, "rating": 5.0},
    ],
    "summary": STAR_WARS_WHY,
}

SIMILAR_BY_MODEL: dict[str, Any] = {
    "movie_id": 50, "model_version": 3, "model_type": "ensemble", "strategy": "model",
    "items": [
        {"movie_id": 181, "title": "Return of the Jedi", "year": 1983, "genres": STAR_WARS_GENRES,
         "similarity": 0.1998},
        {"movie_id": 127, "title": "Godfather, The", "year": 1972, "genres": ["Action", "Crime", "Drama"],
         "similarity": 0.1072},
    ],
}
# Movie 1683 was added after training ("Matrix, The", 1999): its neighbours share its genres.
SIMILAR_BY_GENRES: dict[str, Any] = {
    "movie_id": 1683, "model_version": None, "model_type": None, "strategy": "genres",
    "items": [
        {"movie_id": 96, "title": "Terminator 2: Judgment Day", "year": 1991,
         "genres": ["Action", "Sci-Fi", "Thriller"], "similarity": 1.0},
        {"movie_id": 195, "title": "Terminator, The", "year": 1984, "genres": ["Action", "Sci-Fi", "Thriller"],
         "similarity": 1.0},
    ],
}

# An experiment between version 3 (control) and version 4, on 20% of the users each.
EXPERIMENT_CREATE: dict[str, Any] = {
    "name": "ensemble v3 against mf v4",
    "arms": [{"name": "control", "model_version": 3, "share": 0.2},
             {"name": "treatment", "model_version": 4, "share": 0.2}],
    "coverage": 0.4,
    "salt": "exp-2026-12-03",
}
EXPERIMENT_CREATE_FALLBACK: dict[str, Any] = {
    "name": "version 3 against popularity",
    "arms": [{"name": "model", "model_version": 3, "share": 0.5},
             {"name": "popular", "fallback": "popularity", "share": 0.5}],
}
EXPERIMENT: dict[str, Any] = {
    "id": 1, "name": "ensemble v3 against mf v4", "status": "running", "salt": "exp-2026-12-03", "coverage": 0.4,
    "arms": [{"name": "control", "model_version": 3, "fallback": None, "share": 0.2},
             {"name": "treatment", "model_version": 4, "fallback": None, "share": 0.2}],
    "created_at": "2026-12-03T14:02:11.031337Z", "ended_at": None, "promoted_arm": None,
}
EXPERIMENT_STOPPED: dict[str, Any] = {**EXPERIMENT, "status": "stopped", "ended_at": "2026-12-04T09:30:00.412077Z"}
EXPERIMENT_PROMOTED: dict[str, Any] = {
    "experiment": {**EXPERIMENT, "status": "promoted", "ended_at": "2026-12-04T09:30:00.412077Z",
                   "promoted_arm": "treatment"},
    "activated_version": 4,
}
EXPERIMENT_METRICS: dict[str, Any] = {
    "experiment_id": 1, "status": "running", "alpha": 0.05, "threshold": 3.875, "hit_window_seconds": 604800.0,
    "arms": [
        {"arm": "control", "n_ratings": 4120, "n_users": 92, "n_predicted": 4120, "rmse": 0.9512,
         "rmse_ci": {"low": 0.9213, "high": 0.9801}, "exposures": 920, "hits": 71, "hit_rate": 0.0772,
         "hit_rate_ci": {"low": 0.0598, "high": 0.0991}},
        {"arm": "treatment", "n_ratings": 3987, "n_users": 90, "n_predicted": 3987, "rmse": 1.0874,
         "rmse_ci": {"low": 1.0502, "high": 1.1231}, "exposures": 900, "hits": 40, "hit_rate": 0.0444,
         "hit_rate_ci": {"low": 0.0312, "high": 0.0628}},
    ],
    "comparisons": [
        {"metric": "rmse", "arm": "treatment", "control": "control", "difference": 0.1362, "p_value": 0.00002,
         "test": "Welch's t-test on user-clustered squared errors", "significant": True, "better": "control"},
        {"metric": "hit_rate", "arm": "treatment", "control": "control", "difference": -0.0328, "p_value": 0.0061,
         "test": "two-proportion z-test, user-clustered variance", "significant": True, "better": "control"},
    ],
    "significant": True,
}

# A study of six MF trials on ml-100k, two workers (hosts a and b), one pruned.
STUDY_ID = "9d4f5e1c-6a3b-4d2e-8f71-2c0b9a4e7d13"
TUNE_JOB_ID = "0f6c2d8e-3b1a-4c5d-9e7f-8a2b4c6d1e30"
TUNE_MF_REQUEST: dict[str, Any] = {
    "model_type": "matrix_factorization",
    "space": {
        "n_factors": {"type": "int", "low": 4, "high": 48, "log": True},
        "regularization": {"type": "float", "low": 0.1, "high": 20.0, "log": True},
    },
    "base_hyperparams": {"epochs": 8},
    "n_trials": 6,
    "objective": "rmse",
}
STUDY_ACCEPTED: dict[str, Any] = {"study_id": STUDY_ID, "status": "running", "status_url": f"/api/ml/tune/{STUDY_ID}"}
SEARCH_SPACE: dict[str, Any] = {
    "model_type": "matrix_factorization", "objective": "rmse", "space": DEFAULT_SPACES["matrix_factorization"],
}
STUDY_SUMMARY: dict[str, Any] = {
    "id": STUDY_ID, "model_type": "matrix_factorization", "objective": "rmse", "direction": "minimize",
    "status": "succeeded", "origin": "api", "n_trials": 6, "validation_folds": 1, "timeout_seconds": None,
    "trials_finished": 6, "trials_running": 0,
    "best_value": 0.9262, "best_params": {"n_factors": 9, "regularization": 4.18}, "best_trial": 3,
    "job_id": TUNE_JOB_ID, "model_version": 4, "error": None,
    "created_at": "2026-12-03T14:02:11.204518Z", "deadline_at": None, "finished_at": "2026-12-03T14:03:40.117302Z",
}
_TRIAL: dict[str, Any] = {
    "number": 3, "state": "complete", "params": {"n_factors": 9, "regularization": 4.18}, "value": 0.9262,
    "intermediate": [1.0412, 0.9587, 0.9391, 0.9318, 0.9288, 0.9274, 0.9266, 0.9262],
    "metrics": {"rmse": 0.9262, "mae": 0.7291, "ndcg@10": 0.0412}, "worker": "b:4127", "note": None,
    "started_at": "2026-12-03T14:02:52.331870Z", "finished_at": "2026-12-03T14:03:05.902114Z",
}
_PRUNED: dict[str, Any] = {
    **_TRIAL, "number": 4, "state": "pruned", "params": {"n_factors": 41, "regularization": 0.13}, "value": None,
    "intermediate": [1.1874, 1.0903, 1.0518], "metrics": None, "worker": "a:4090",
    "note": "pruned at epoch 3: validation_rmse 1.0518",
    "started_at": "2026-12-03T14:03:06.110251Z", "finished_at": "2026-12-03T14:03:12.447903Z",
}
STUDY_DETAIL: dict[str, Any] = {
    **STUDY_SUMMARY,
    "space": TUNE_MF_REQUEST["space"], "base_hyperparams": {"epochs": 8},
    "split": {"folds": 1, "ratings": 100000, "train": 72290, "validation": 7710, "holdout": 20000,
              "train_fingerprint": "5e2f0c9ad13b7e44", "validation_fingerprint": "b81d6a2c09f3e571",
              "holdout_fingerprint": "0c7a93e1f54d28b6"},
    "trials": [_TRIAL, _PRUNED],
    "best_so_far": [0.9262, 0.9262],
    "importances": {"regularization": 0.81, "n_factors": 0.19},
    "version": {"version": 4, "is_active": True, "holdout_rmse": 0.9187, "holdout_ndcg": 0.0436,
                "gate_activated": True, "gate_reason": "activated: holdout RMSE 0.9187 against v3's 0.9310, no worse"},
}
CANCELLED_STUDY: dict[str, Any] = {
    **STUDY_DETAIL, "status": "cancelled", "trials_finished": 2, "best_value": 0.9262, "job_id": None,
    "model_version": None, "error": "cancelled on request", "version": None,
    "trials": [_TRIAL, {**_PRUNED, "state": "failed", "intermediate": [1.1874], "note": "the study was cancelled"}],
}
