"""The quality gate: whether a newly trained version replaces the active one."""

from __future__ import annotations

from service.db.models import ModelVersion


def should_activate(candidate: ModelVersion, active: ModelVersion | None, tolerance: float) -> bool:
    """The first model always activates; later ones only if their holdout RMSE is no
    worse than the active version's by more than ``tolerance``."""
    if active is None:
        return True
    if active.holdout_rmse is None or candidate.holdout_rmse is None:
        return candidate.holdout_rmse is not None
    return candidate.holdout_rmse <= active.holdout_rmse + tolerance
