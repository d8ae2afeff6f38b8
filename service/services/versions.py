"""Model versions: list with metrics, activate, delete; the metrics history."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.errors import Conflict, NotFound
from service.db import statements
from service.db.models import MetricRecord, ModelArtifact, ModelVersion, VersionStatus
from service.schemas.ml import MetricsPublic, ModelVersionPublic


async def _latest_metrics(session: AsyncSession) -> dict[int, MetricRecord]:
    records = (await session.scalars(select(MetricRecord).order_by(MetricRecord.created_at, MetricRecord.id))).all()
    latest: dict[int, MetricRecord] = {}
    for record in records:
        latest[record.model_version] = record
    return latest


async def list_versions(session: AsyncSession) -> list[ModelVersionPublic]:
    versions = (await session.scalars(select(ModelVersion).order_by(ModelVersion.version.desc()))).all()
    metrics = await _latest_metrics(session)
    return [_public(v, metrics.get(v.version)) for v in versions]


def _public(version: ModelVersion, metrics: MetricRecord | None) -> ModelVersionPublic:
    return ModelVersionPublic(
        version=version.version,
        model_type=version.model_type,
        hyperparams=version.hyperparams,
        engine=version.engine,  # type: ignore[arg-type]
        status=version.status,
        is_active=version.is_active,
        created_at=version.created_at,
        trained_at=version.trained_at,
        activated_at=version.activated_at,
        n_train_ratings=version.n_train_ratings,
        n_users=version.n_users,
        n_items=version.n_items,
        data_fingerprint=version.data_fingerprint,
        artifact_checksum=version.artifact_checksum,
        artifact_size=version.artifact_size,
        job_id=version.job_id,
        holdout_rmse=version.holdout_rmse,
        holdout_ndcg=version.holdout_ndcg,
        metrics=metrics.values if metrics else None,
        gate_activated=version.gate_activated,
        gate_reason=version.gate_reason,
    )


async def get_version(session: AsyncSession, version: int) -> ModelVersion:
    found = await session.get(ModelVersion, version, populate_existing=True)
    if found is None:
        raise NotFound(f"model version {version} not found", field="version")
    return found


async def _lock_versions(session: AsyncSession) -> None:
    for statement in statements.lock_versions(session.bind.dialect.name):
        await session.execute(statement)


async def activate_version(session: AsyncSession, version: int) -> ModelVersionPublic:
    await _lock_versions(session)
    target = await get_version(session, version)
    if target.status != VersionStatus.ready.value:
        raise Conflict(f"model version {version} is {target.status}, not ready", field="version")
    await _require_intact_artifact(session, target)
    try:
        # A savepoint, so a refused activation leaves the current one in place.
        async with session.begin_nested():
            deactivate, activate = statements.activation(version)
            await session.execute(deactivate)
            if (await session.execute(activate)).rowcount != 1:
                # Only reachable on SQLite, where the checks above ran before this
                # transaction took the write lock: the version was deleted meanwhile.
                raise Conflict(f"model version {version} was deleted meanwhile", field="version")
    except IntegrityError as exc:
        raise Conflict("another activation happened at the same time; retry", field="version") from exc
    target = await get_version(session, version)
    metrics = (await _latest_metrics(session)).get(version)
    return _public(target, metrics)


async def _require_intact_artifact(session: AsyncSession, version: ModelVersion) -> None:
    """Refuse to activate a version whose stored artifact no longer matches its checksum."""
    data = await session.scalar(select(ModelArtifact.data).where(ModelArtifact.version == version.version))
    if data is None or hashlib.sha256(data).hexdigest() != version.artifact_checksum:
        raise Conflict(
            f"model version {version.version}'s artifact is missing or fails its checksum; refusing to activate it",
            field="version",
        )


async def delete_version(session: AsyncSession, version: int) -> None:
    """Delete a version's artifact and mark it deleted; its record and metrics stay."""
    await _lock_versions(session)
    target = await get_version(session, version)
    if target.status == VersionStatus.deleted.value:
        raise NotFound(f"model version {version} was already deleted", field="version")
    if target.is_active:
        raise Conflict(f"model version {version} is active; activate another version first", field="version")
    if version in set((await session.scalars(statements.running_arm_versions())).all()):
        raise Conflict(f"model version {version} serves an arm of the running experiment; stop it first",
                       field="version")
    if not (await session.scalars(statements.mark_deleted([version]))).all():
        # SQLite only (see activate_version): it was activated or deleted meanwhile.
        raise Conflict(f"model version {version} changed meanwhile; retry", field="version")
    await session.execute(statements.delete_artifacts([version]))


async def active_metrics(session: AsyncSession) -> MetricsPublic:
    active = (await session.scalars(statements.active_version())).first()
    if active is None:
        raise NotFound("no model is active yet; train one with POST /api/ml/train")
    record = (await _latest_metrics(session)).get(active.version)
    if record is None:
        raise NotFound(f"model version {active.version} has no metrics")
    return _metrics_public(record)


async def metrics_history(session: AsyncSession) -> list[MetricsPublic]:
    records = (await session.scalars(select(MetricRecord).order_by(MetricRecord.created_at, MetricRecord.id))).all()
    return [_metrics_public(r) for r in records]


def _metrics_public(record: MetricRecord) -> MetricsPublic:
    return MetricsPublic(
        model_version=record.model_version,
        created_at=record.created_at,
        protocol=record.protocol,
        k=record.k,
        n_test=record.n_test,
        values=record.values,
    )
