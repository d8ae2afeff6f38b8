from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_core.types import Engine, ModelSpec
from service.schemas.common import EntityId, UtcDatetime
from service.training.status import JobStatus

# {"model_type": ..., "hyperparams": {...}}, validated per type; no model_type: the ensemble.
TrainRequest = ModelSpec


class ModelTypeInfo(BaseModel):
    model_type: str = Field(description="The name a training request gives as `model_type`.")
    title: str = Field(description="A short name for people.")
    description: str = Field(description="What the type is good and bad at.")
    predicts_ratings: bool = Field(description="Whether /predict works when a version of this type is active.")
    is_default: bool = Field(description="The type trained when a request names none.")
    gate_metric: str = Field(description="The holdout metric a new version of this type must not lose on.")
    defaults: dict[str, object] = Field(description="Default hyperparameters.")
    hyperparams_schema: dict[str, object] = Field(description="JSON Schema of the hyperparameters, with ranges.")


class EpochPoint(BaseModel):
    epoch: int = Field(description="The epoch (or stage) number, from 1.")
    train_loss: float = Field(description="The type's training objective divided by the number of ratings.")
    train_rmse: float | None = Field(default=None, description="RMSE on the training ratings; null for ranking-only types.")
    validation_rmse: float | None = Field(default=None, description="RMSE on the validation ratings, where measured.")
    validation_ndcg: float | None = Field(default=None, description="NDCG on the validation ratings, for ranking types.")
    seconds: float = Field(description="Wall time of the epoch.")


class JobPublic(BaseModel):
    id: str = Field(description="The job's id (a UUID).")
    kind: Literal["train", "retrain", "tune"] = Field(
        description="train: POST /api/ml/train; retrain: POST /api/ml/retrain or the schedule; tune: a study's best trial."
    )
    model_type: str = Field(description="The model type being trained.")
    hyperparams: dict[str, object] = Field(description="The validated hyperparameters, defaults filled in.")
    engine: Engine = Field("numpy", description="What trains it: numpy (the worker's own trainers) or spark.")
    status: JobStatus = Field(description="Where the job is; succeeded, failed and cancelled are final.")
    progress: float = Field(description="Share of the job done, from 0 to 1.")
    current_epoch: int = Field(description="Epochs of the training curve done so far.")
    total_epochs: int = Field(description="Epochs the training curve runs.")
    history: list[EpochPoint] = Field(description="The loss curve so far, one point per epoch.")
    error: str | None = Field(description="Why the job failed or was cancelled; null otherwise.")
    model_version: int | None = Field(description="The version the job produced, once it has succeeded.")
    cancel_requested: bool = Field(description="Whether a cancel was asked for; a running job stops at its next epoch.")
    attempts: int = Field(description="Times a worker has started the job.")
    created_at: UtcDatetime = Field(description="When the job was queued.")
    started_at: UtcDatetime | None = Field(description="When a worker started it; null while queued.")
    finished_at: UtcDatetime | None = Field(description="When it ended; null until then.")
    duration_seconds: float | None = Field(default=None, description="Seconds it has run (until now, or until it ended).")
    eta_seconds: float | None = Field(default=None, description="Estimated seconds left, while it runs.")


class JobAccepted(BaseModel):
    job_id: str = Field(description="The new job's id.")
    status: JobStatus = Field(description="Its status when accepted: queued.")
    status_url: str = Field(description="The path to poll for its status and progress.")


class JobsAccepted(BaseModel):
    jobs: list[JobAccepted] = Field(description="The jobs queued: one, for the type that serves now.")


class MetricsPublic(BaseModel):
    model_version: int = Field(description="The version evaluated.")
    created_at: UtcDatetime = Field(description="When the evaluation ran.")
    protocol: str = Field(description="How the holdout was drawn; user_holdout: a share of each user's ratings.")
    k: int = Field(description="The cut-off K of the @K metrics.")
    n_test: int = Field(description="Ratings in the holdout.")
    values: dict[str, float | None] = Field(description="Each metric by name (rmse, ndcg@10, ...); null where it does not apply.")


class ModelVersionPublic(BaseModel):
    version: int = Field(description="The version number, counting up from 1.")
    model_type: str = Field(description="The model type trained.")
    hyperparams: dict[str, object] = Field(description="The hyperparameters it was trained with.")
    engine: Engine = Field(
        "numpy", description="What trained it: numpy or spark. The artifact's format is the same either way."
    )
    status: str = Field(description="ready, failed, or deleted (the record stays; the artifact is gone).")
    is_active: bool = Field(description="Whether this is the version every API process serves.")
    created_at: UtcDatetime = Field(description="When the version was recorded.")
    trained_at: UtcDatetime | None = Field(description="When training finished.")
    activated_at: UtcDatetime | None = Field(description="When it was last made active; null if never.")
    n_train_ratings: int = Field(description="Ratings it was trained on.")
    n_users: int = Field(description="Users it learned.")
    n_items: int = Field(description="Movies it learned.")
    data_fingerprint: str = Field(description="SHA-256 of the training data, to tell two datasets apart.")
    artifact_checksum: str = Field(description="SHA-256 of the stored model file.")
    artifact_size: int = Field(description="Size of the stored model file in bytes.")
    job_id: str | None = Field(description="The training job that produced it.")
    holdout_rmse: float | None = Field(None, description="Holdout RMSE (types that predict ratings).")
    holdout_ndcg: float | None = Field(None, description="Holdout full-catalogue NDCG@K.")
    metrics: dict[str, float | None] | None = Field(default=None, description="Its latest holdout metrics by name.")
    gate_activated: bool | None = Field(
        default=None,
        description="Whether the quality gate activated it when it was trained; null for versions older than "
        "the gate's record. An admin may still activate a version the gate kept out.",
    )
    gate_reason: str | None = Field(
        default=None,
        description="Why the gate decided so: the metric compared, against which active version, and the "
        "tolerance setting (ACTIVATION_TOLERANCE or ACTIVATION_NDCG_TOLERANCE).",
    )


class RecommendationItem(BaseModel):
    movie_id: int = Field(description="The movie recommended.")
    title: str = Field(description="Its title.")
    year: int | None = Field(description="Its release year, if known.")
    genres: list[str] = Field(description="Its genres, in alphabetical order.")
    score: float = Field(
        description="Ranking score, higher first. Matrix factorization: the predicted rating; "
        "other types: a score on the type's own scale."
    )
    predicted_rating: float | None = Field(
        description="MF's predicted rating where the serving type has one (matrix_factorization, ensemble)."
    )
    explanation: str | None = Field(default=None, description="Why, in a sentence; only with `explain=true`.")


class RecommendationsResponse(BaseModel):
    user_id: int = Field(description="The user the list is for.")
    model_version: int | None = Field(description="The version that served the list; null for fallbacks.")
    model_type: str | None = Field(description="The type of the version that served the list; null for fallbacks.")
    strategy: Literal["personalized", "popularity_fallback", "genre_fallback"] = Field(
        description="personalized: from the model; otherwise the best-rated movies overall or in `genres`."
    )
    items: list[RecommendationItem] = Field(description="The movies, best first; none the user has rated.")
    experiment_id: int | None = Field(
        default=None, description="The running experiment the user is in; null outside one."
    )
    arm: str | None = Field(default=None, description="The experiment's arm that served the list; null outside one.")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: EntityId = Field(description="The user; one without ratings gets the model's prediction for anyone.")
    movie_id: EntityId = Field(description="The movie; it must be in the catalogue.")


class PredictResponse(BaseModel):
    user_id: int = Field(description="The user asked about.")
    movie_id: int = Field(description="The movie asked about.")
    predicted_rating: float = Field(description="The predicted rating, on the rating scale.")
    model_version: int | None = Field(
        description="The version that predicted it; null for a user of a popularity arm (the movie's damped mean)."
    )
    model_type: str = Field(description="That version's type, or popularity.")
    known_user: bool = Field(description="Whether the user has ratings the prediction used.")
    known_movie: bool = Field(description="Whether the model learned the movie (one added since training it has not).")
    experiment_id: int | None = Field(
        default=None, description="The running experiment the user is in; null outside one."
    )
    arm: str | None = Field(default=None, description="The experiment's arm that predicted it; null outside one.")


class ExplanationTerm(BaseModel):
    kind: Literal["global_mean", "user_bias", "item_appeal", "tags", "rated_item", "baseline", "residual"] = Field(
        description="Which part of the score the term is."
    )
    label: str = Field(description="What the term is, in words.")
    value: float = Field(description="Signed share of the score; all terms sum to `score`.")
    movie_id: int | None = Field(None, description="For a rated_item term: the movie you rated.")
    your_rating: float | None = Field(default=None, description="For a rated_item term: your rating of it.")


class RatedMovieContribution(BaseModel):
    movie_id: int = Field(description="A movie the user rated.")
    title: str = Field(description="Its title.")
    your_rating: float = Field(description="The user's rating of it.")
    similarity: float | None = Field(description="How alike the two movies are to the model (cosine), if it says.")
    contribution: float = Field(description="Signed share of the score.")


class GenreMatch(BaseModel):
    genre: str = Field(description="One of the movie's genres.")
    affinity: float = Field(description="Your mean-centered rating of movies in this genre.")
    n_rated: int = Field(description="Movies of this genre the user has rated.")
    drove_match: bool = Field(description="Whether this genre pushed the score up.")


class SimilarUserRating(BaseModel):
    user_id: int = Field(description="A user with similar taste who rated the movie.")
    similarity: float = Field(description="How alike the two users are (cosine, up to 1).")
    rating: float = Field(description="Their rating of the movie.")


class ExplanationResponse(BaseModel):
    user_id: int = Field(description="The user.")
    movie_id: int = Field(description="The movie explained.")
    title: str = Field(description="Its title.")
    model_version: int = Field(description="The version explained.")
    model_type: str = Field(description="That version's type.")
    score: float = Field(description="The ranking score explained; the terms sum to it.")
    predicted_rating: float | None = Field(description="The predicted rating, for types that have one.")
    terms: list[ExplanationTerm] = Field(description="Additive terms that sum to `score`.")
    because_you_rated: list[RatedMovieContribution] = Field(description="The rated movies that moved the score most (`top` of them).")
    genre_matches: list[GenreMatch] = Field(description="The movie's genres and the user's taste for each.")
    similar_users: list[SimilarUserRating] = Field(description="Users of similar taste who rated the movie.")
    summary: str = Field(description="The explanation in one sentence.")


class LiveHour(BaseModel):
    hour: UtcDatetime = Field(description="The start of the hour.")
    n: int = Field(description="Ratings predicted and then received in that hour.")
    rmse: float | None = Field(description="Their RMSE.")
    mae: float | None = Field(description="Their mean absolute error.")


class LiveMetrics(BaseModel):
    """Prequential accuracy of the active model on ratings it had not seen yet."""

    model_version: int | None = Field(description="The active version measured; null without one.")
    window: int = Field(description="Most recent ratings the rolling figures cover.")
    n: int = Field(description="Ratings in the window so far.")
    rmse: float | None = Field(description="RMSE of the predictions made before those ratings arrived.")
    mae: float | None = Field(description="Mean absolute error of the same predictions.")
    holdout_rmse: float | None = Field(description="The version's holdout RMSE, to compare with.")
    drift: bool = Field(description="Live RMSE exceeds the holdout RMSE by more than drift_margin.")
    drift_margin: float = Field(description="How far above the holdout RMSE the live RMSE may go (DRIFT_MARGIN).")
    hourly: list[LiveHour] = Field(description="The same per hour over the last 48 hours, oldest first.")


class SimilarMovie(BaseModel):
    movie_id: int = Field(description="A similar movie.")
    title: str = Field(description="Its title.")
    year: int | None = Field(description="Its release year, if known.")
    genres: list[str] = Field(description="Its genres, in alphabetical order.")
    similarity: float = Field(description="Cosine in factor space, or genres shared over genres of either (1: the same genres).")


class SimilarMoviesResponse(BaseModel):
    movie_id: int = Field(description="The movie asked about.")
    model_version: int | None = Field(description="The version whose factors were used; null for genres.")
    model_type: str | None = Field(description="That version's type; null for genres.")
    strategy: Literal["model", "genres"] = Field(description="model: the learned factors; genres: a movie the model has not learned.")
    items: list[SimilarMovie] = Field(description="The most similar movies, most similar first.")


class PredictBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[PredictRequest] = Field(min_length=1, max_length=10_000, description="The (user, movie) pairs, 1 to 10,000.")


class PredictBatchResponse(BaseModel):
    model_version: int | None = Field(
        description="The version that made the first prediction: every one, unless an experiment serves some of "
        "the users by other arms (each prediction names its own)."
    )
    model_type: str = Field(description="That version's type.")
    predictions: list[PredictResponse] = Field(description="One per pair, in the order asked.")
