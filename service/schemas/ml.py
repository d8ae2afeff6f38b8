from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_core.types import ModelSpec, ModelTypeName
from service.schemas.common import EntityId
from service.training.status import JobStatus


# {"model_type": ..., "hyperparams": {...}}, validated per type; no model_type: the ensemble.
TrainRequest = ModelSpec


class ModelTypeInfo(BaseModel):
    model_type: str
    title: str
    description: str
    predicts_ratings: bool = Field(description="Whether /predict works when a version of this type is active.")
    is_default: bool = Field(description="The type trained when a request names none.")
    gate_metric: str = Field(description="The holdout metric a new version of this type must not lose on.")
    defaults: dict[str, object] = Field(description="Default hyperparameters.")
    hyperparams_schema: dict[str, object] = Field(description="JSON Schema of the hyperparameters, with ranges.")


class EpochPoint(BaseModel):
    epoch: int
    train_loss: float
    train_rmse: float | None = None
    validation_rmse: float | None = None
    validation_ndcg: float | None = None
    seconds: float


class JobPublic(BaseModel):
    id: str
    kind: Literal["train", "retrain"]
    model_type: str
    hyperparams: dict[str, object]
    status: JobStatus
    progress: float
    current_epoch: int
    total_epochs: int
    history: list[EpochPoint]
    error: str | None
    model_version: int | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = None
    eta_seconds: float | None = None


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str


class JobsAccepted(BaseModel):
    jobs: list[JobAccepted]


class MetricsPublic(BaseModel):
    model_version: int
    created_at: datetime
    protocol: str
    k: int
    n_test: int
    values: dict[str, float | None]


class ModelVersionPublic(BaseModel):
    version: int
    model_type: str
    hyperparams: dict[str, object]
    status: str
    is_active: bool
    created_at: datetime
    trained_at: datetime | None
    activated_at: datetime | None
    n_train_ratings: int
    n_users: int
    n_items: int
    data_fingerprint: str
    artifact_checksum: str
    artifact_size: int
    job_id: str | None
    holdout_rmse: float | None = Field(None, description="Holdout RMSE (types that predict ratings).")
    holdout_ndcg: float | None = Field(None, description="Holdout full-catalogue NDCG@K.")
    metrics: dict[str, float | None] | None = None


class RecommendationItem(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    score: float = Field(
        description="Ranking score, higher first. Matrix factorization: the predicted rating; "
        "other types: a score on the type's own scale."
    )
    predicted_rating: float | None = Field(
        description="MF's predicted rating where the serving type has one (matrix_factorization, ensemble)."
    )
    explanation: str | None = None


class RecommendationsResponse(BaseModel):
    user_id: int
    model_version: int | None
    model_type: str | None = Field(description="The type of the version that served the list; null for fallbacks.")
    strategy: Literal["personalized", "popularity_fallback", "genre_fallback"]
    items: list[RecommendationItem]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: EntityId
    movie_id: EntityId


class PredictResponse(BaseModel):
    user_id: int
    movie_id: int
    predicted_rating: float
    model_version: int
    model_type: str
    known_user: bool
    known_movie: bool


class ExplanationTerm(BaseModel):
    kind: Literal["global_mean", "user_bias", "item_appeal", "tags", "rated_item", "baseline", "residual"]
    label: str = Field(description="What the term is, in words.")
    value: float = Field(description="Signed share of the score; all terms sum to `score`.")
    movie_id: int | None = Field(None, description="For a rated_item term: the movie you rated.")
    your_rating: float | None = None


class RatedMovieContribution(BaseModel):
    movie_id: int
    title: str
    your_rating: float
    similarity: float | None = Field(description="How alike the two movies are to the model (cosine), if it says.")
    contribution: float = Field(description="Signed share of the score.")


class GenreMatch(BaseModel):
    genre: str
    affinity: float = Field(description="Your mean-centered rating of movies in this genre.")
    n_rated: int
    drove_match: bool


class SimilarUserRating(BaseModel):
    user_id: int
    similarity: float
    rating: float


class ExplanationResponse(BaseModel):
    user_id: int
    movie_id: int
    title: str
    model_version: int
    model_type: str
    score: float = Field(description="The ranking score explained; the terms sum to it.")
    predicted_rating: float | None = Field(description="The predicted rating, for types that have one.")
    terms: list[ExplanationTerm]
    because_you_rated: list[RatedMovieContribution]
    genre_matches: list[GenreMatch]
    similar_users: list[SimilarUserRating]
    summary: str


class LiveHour(BaseModel):
    hour: datetime
    n: int
    rmse: float | None
    mae: float | None


class LiveMetrics(BaseModel):
    """Prequential accuracy of the active model on ratings it had not seen yet."""

    model_version: int | None
    window: int
    n: int
    rmse: float | None
    mae: float | None
    holdout_rmse: float | None
    drift: bool = Field(description="Live RMSE exceeds the holdout RMSE by more than drift_margin.")
    drift_margin: float
    hourly: list[LiveHour]


class SimilarMovie(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    similarity: float


class SimilarMoviesResponse(BaseModel):
    movie_id: int
    model_version: int | None
    model_type: str | None
    strategy: Literal["model", "genres"]
    items: list[SimilarMovie]


class PredictBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[PredictRequest] = Field(min_length=1, max_length=10_000)


class PredictBatchResponse(BaseModel):
    model_version: int
    model_type: str
    predictions: list[PredictResponse]
