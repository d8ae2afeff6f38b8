"""Experiments (A/B tests between model versions): requests, views and per-arm metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas.common import MAX_VERSION, NO_NUL, UtcDatetime

ArmName = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$",
                description="The arm's name, unique in the experiment (letters, digits, _ . -).")


class ArmCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ArmName
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION,
        description="The model version this arm serves (ready, not deleted); omit it for a fallback arm.",
    )
    fallback: Literal["popularity"] | None = Field(
        default=None, description="popularity: the damped-mean popularity list, instead of a model version.",
    )
    share: float = Field(gt=0, le=1, description="The arm's share of all traffic; the shares sum to `coverage`.")


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL, description="A name for people.")
    arms: list[ArmCreate] = Field(min_length=2, max_length=10, description="Two to ten arms, the first is the control.")
    coverage: float = Field(
        default=1.0, gt=0, le=1,
        description="The share of users in the experiment; the rest are served by the active version.",
    )
    salt: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Hashed with each user id to assign arms; a new random one when omitted. The same salt "
        "and shares assign every user as before.",
    )


class ArmPublic(BaseModel):
    name: str = Field(description="The arm's name.")
    model_version: int | None = Field(description="The version it serves; null for a fallback.")
    fallback: str | None = Field(description="The fallback it serves (popularity); null for a version.")
    share: float = Field(description="Its share of all traffic.")


class ExperimentPublic(BaseModel):
    id: int = Field(description="The experiment's id.")
    name: str = Field(description="Its name.")
    status: Literal["running", "stopped", "promoted"] = Field(
        description="running; stopped; or promoted: stopped with one arm's version activated."
    )
    salt: str = Field(description="Hashed with each user id to assign arms.")
    coverage: float = Field(description="The share of users in the experiment.")
    arms: list[ArmPublic] = Field(description="The arms, control first.")
    created_at: UtcDatetime = Field(description="When it started.")
    ended_at: UtcDatetime | None = Field(description="When it was stopped or promoted; null while running.")
    promoted_arm: str | None = Field(description="The arm whose version was activated when it ended, if any.")


class Interval(BaseModel):
    low: float | None = Field(description="Lower bound; null without enough data.")
    high: float | None = Field(description="Upper bound; null without enough data.")


class ArmMetrics(BaseModel):
    arm: str = Field(description="The arm.")
    n_ratings: int = Field(description="Ratings received from the arm's users since the experiment started.")
    n_users: int = Field(description="Users of the arm who rated.")
    n_predicted: int = Field(description="Of the ratings, those the arm predicted before learning them.")
    rmse: float | None = Field(description="Prequential RMSE: the arm's predictions made before each rating was learned.")
    rmse_ci: Interval = Field(description="Confidence interval of the RMSE at 1 - alpha (user-clustered, delta method).")
    exposures: int = Field(description="(user, movie) pairs the arm recommended (each counted once).")
    hits: int = Field(description="Of the exposures, those the user then rated at or above the positive threshold within the window.")
    hit_rate: float | None = Field(description="hits / exposures; null before any exposure.")
    hit_rate_ci: Interval = Field(description="Wilson interval of the hit rate at 1 - alpha.")


class Comparison(BaseModel):
    metric: Literal["rmse", "hit_rate"] = Field(description="The metric compared.")
    arm: str = Field(description="The arm compared with the control (the first arm).")
    control: str = Field(description="The control arm.")
    difference: float | None = Field(description="The arm's value minus the control's; null without data.")
    p_value: float | None = Field(description="Two-sided p-value; null without enough data.")
    test: str = Field(description="The test used.")
    significant: bool = Field(description="p_value below alpha divided by the number of comparisons (Bonferroni).")
    better: str | None = Field(description="The better arm when significant (lower RMSE, higher hit rate); null otherwise.")


class ExperimentMetrics(BaseModel):
    experiment_id: int = Field(description="The experiment.")
    status: Literal["running", "stopped", "promoted"] = Field(description="Its status.")
    alpha: float = Field(description="The significance level (EXPERIMENT_ALPHA), for the whole family of comparisons.")
    threshold: float = Field(description="A rating at or above this is a hit (the scale's positive threshold).")
    hit_window_seconds: float = Field(description="How long after an exposure a rating can count as its hit.")
    arms: list[ArmMetrics] = Field(description="Each arm's metrics, control first.")
    comparisons: list[Comparison] = Field(description="Each arm against the control, per metric.")
    significant: bool = Field(description="Whether any comparison is significant.")


class ExperimentPromoted(BaseModel):
    experiment: ExperimentPublic = Field(description="The experiment, now promoted.")
    activated_version: int = Field(description="The version activated: the promoted arm's.")
