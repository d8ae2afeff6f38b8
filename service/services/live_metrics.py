"""Prequential accuracy: how well the active model predicted ratings it had not seen.

Each incoming rating was scored before it was folded in (see realtime.py). The rolling
RMSE/MAE over the last N of those, per hour, and a drift flag when the live RMSE exceeds
the model's holdout RMSE by more than DRIFT_MARGIN.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.db.models import LivePrediction, utcnow
from service.schemas.ml import LiveHour, LiveMetrics
from service.services.model_registry import ModelRegistry

HOURS = 48


def _errors(predicted: np.ndarray, actual: np.ndarray) -> tuple[float | None, float | None]:
    if len(predicted) == 0:
        return None, None
    diff = predicted - actual
    return float(np.sqrt(np.mean(diff**2))), float(np.mean(np.abs(diff)))


async def live_metrics(
    session: AsyncSession, settings: Settings, registry: ModelRegistry, window: int | None
) -> LiveMetrics:
    window = window or settings.live_window
    loaded = registry.current
    version = loaded.version if loaded else None
    query = select(LivePrediction.predicted, LivePrediction.actual, LivePrediction.created_at)
    if version is not None:
        query = query.where(LivePrediction.model_version == version)
    recent = (await session.execute(query.order_by(LivePrediction.id.desc()).limit(window))).all()
    predicted = np.array([r[0] for r in recent], dtype=np.float64)
    actual = np.array([r[1] for r in recent], dtype=np.float64)
    rmse, mae = _errors(predicted, actual)

    since = utcnow() - timedelta(hours=HOURS)
    hourly_rows = (await session.execute(query.where(LivePrediction.created_at >= since))).all()
    buckets: defaultdict[object, list[tuple[float, float]]] = defaultdict(list)
    for p, a, created in hourly_rows:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        buckets[created.replace(minute=0, second=0, microsecond=0)].append((p, a))
    hourly = []
    for hour in sorted(buckets):
        pairs = np.array(buckets[hour])
        h_rmse, h_mae = _errors(pairs[:, 0], pairs[:, 1])
        hourly.append(LiveHour(hour=hour, n=len(pairs), rmse=h_rmse, mae=h_mae))

    holdout = loaded.holdout_rmse if loaded else None
    drift = (
        rmse is not None
        and holdout is not None
        and len(recent) >= settings.drift_min_ratings
        and rmse > holdout + settings.drift_margin
    )
    return LiveMetrics(
        model_version=version,
        window=window,
        n=len(recent),
        rmse=rmse,
        mae=mae,
        holdout_rmse=holdout,
        drift=drift,
        drift_margin=settings.drift_margin,
        hourly=hourly,
    )
