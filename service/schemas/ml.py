from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_core.params import MFParams
from service.schemas.common import EntityId
from service.training.status import JobStatus

ModelType = Literal["matrix_factorization"]


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_type: ModelType = "matrix_factorization"
    hyperparams: MFParams = Field(default_factory=MFParams)


class EpochPoint(BaseModel):
    epoch: int
    train_loss: float
    train_rmse: float | None = None
    validation_rmse: float | None = None
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
    metrics: dict[str, float | None] | None = None


class RecommendationItem(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    score: float = Field(description="Ranking score (for the personalized model, the predicted rating).")
    predicted_rating: float | None
    explanation: str | None = None


class RecommendationsResponse(BaseModel):
    user_id: int
    model_version: int | None
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
    known_user: bool
    known_movie: bool


class PredictionBreakdown(BaseModel):
    global_mean: float
    user_bias: float
    movie_bias: float
    interaction: float
    predicted_rating: float = Field(description="Sum of the terms, clipped to the rating scale.")


class RatedMovieContribution(BaseModel):
    movie_id: int
    title: str
    your_rating: float
    similarity: float = Field(description="Cosine similarity of the two movies in factor space.")
    contribution: float = Field(description="Signed share of the interaction term.")


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
    breakdown: PredictionBreakdown
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
    strategy: Literal["factors", "genres"]
    items: list[SimilarMovie]


class PredictBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[PredictRequest] = Field(min_length=1, max_length=10_000)


class PredictBatchResponse(BaseModel):
    model_version: int
    predictions: list[PredictResponse]
