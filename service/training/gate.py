"""The quality gate: whether a newly trained version replaces the active one.

Like is compared with like. A version of the active version's own type is judged on
the metric that matters for that type (``service.core.model_types.gate_metric``:
holdout RMSE for matrix factorization, holdout NDCG@K for the types that rank). A
version of another type must keep everything the active one serves: it may not lose
NDCG (every version has it), and when the active version predicts ratings it must
predict them too, no worse. So an ensemble replaces an MF version (better lists, the
same MF ratings), while an MF or EASE version does not silently replace an ensemble;
an admin can still activate any version by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.model_types import gate_metric
from service.db.models import ModelVersion


@dataclass(frozen=True)
class Tolerances:
    rmse: float  # RMSE a new version may lose and still activate
    ndcg: float  # NDCG it may lose


def should_activate(candidate: ModelVersion, active: ModelVersion | None, tolerances: Tolerances) -> bool:
    """The first model always activates; later ones as the module docstring says."""
    if active is None:
        return True
    if candidate.model_type == active.model_type:
        if gate_metric(candidate.model_type) == "rmse":
            return _rmse_kept(candidate, active, tolerances.rmse)
        return _ndcg_kept(candidate, active, tolerances.ndcg)
    if active.holdout_rmse is not None and not _rmse_kept(candidate, active, tolerances.rmse):
        return False
    return _ndcg_kept(candidate, active, tolerances.ndcg)


def _rmse_kept(candidate: ModelVersion, active: ModelVersion, tolerance: float) -> bool:
    if active.holdout_rmse is None:
        return candidate.holdout_rmse is not None
    return candidate.holdout_rmse is not None and candidate.holdout_rmse <= active.holdout_rmse + tolerance


def _ndcg_kept(candidate: ModelVersion, active: ModelVersion, tolerance: float) -> bool:
    if active.holdout_ndcg is None:  # versions trained before NDCG was recorded
        return candidate.holdout_ndcg is not None
    return candidate.holdout_ndcg is not None and candidate.holdout_ndcg >= active.holdout_ndcg - tolerance
