"""The quality gate: whether a newly trained version replaces the active one, and why.

Like is compared with like. A version of the active version's own type is judged on
the metric that matters for that type (``service.core.model_types.gate_metric``:
holdout RMSE for matrix factorization, holdout NDCG@K for the types that rank). A
version of another type must keep everything the active one serves: it may not lose
NDCG (every version has it), and when the active version predicts ratings it must
predict them too, no worse. So an ensemble replaces an MF version (better lists, the
same MF ratings), while an MF or EASE version does not silently replace an ensemble;
an admin can still activate any version by hand.

The verdict's reason is stored with the version, so a version the gate kept out says
which number kept it out, against which version and which tolerance setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.model_types import gate_metric
from service.db.models import ModelVersion


@dataclass(frozen=True)
class Tolerances:
    rmse: float  # RMSE a new version may lose and still activate
    ndcg: float  # NDCG it may lose


@dataclass(frozen=True)
class Verdict:
    activate: bool
    reason: str


@dataclass(frozen=True)
class _Check:
    kept: bool
    reason: str


def judge(candidate: ModelVersion, active: ModelVersion | None, tolerances: Tolerances) -> Verdict:
    """The first model always activates; later ones as the module docstring says."""
    if active is None:
        return Verdict(True, "activated: no version was active")
    if candidate.model_type == active.model_type:
        metric = gate_metric(candidate.model_type)
        checks = [_rmse(candidate, active, tolerances.rmse) if metric == "rmse" else _ndcg(candidate, active, tolerances.ndcg)]
    else:
        checks = [_rmse(candidate, active, tolerances.rmse)] if active.holdout_rmse is not None else []
        checks.append(_ndcg(candidate, active, tolerances.ndcg))
    failed = [check.reason for check in checks if not check.kept]
    if failed:
        return Verdict(False, f"not activated, v{active.version} stays active: " + "; ".join(failed))
    return Verdict(True, "activated: " + "; ".join(check.reason for check in checks))


def _rmse(candidate: ModelVersion, active: ModelVersion, tolerance: float) -> _Check:
    ours, theirs = candidate.holdout_rmse, active.holdout_rmse
    if ours is None:
        return _Check(False, f"it predicts no ratings and v{active.version} does")
    if theirs is None:
        return _Check(True, f"holdout RMSE {ours:.4f}, v{active.version} has none")
    return _compare("RMSE", ours, theirs, ours - theirs, active.version, "ACTIVATION_TOLERANCE", tolerance)


def _ndcg(candidate: ModelVersion, active: ModelVersion, tolerance: float) -> _Check:
    ours, theirs = candidate.holdout_ndcg, active.holdout_ndcg
    if ours is None:
        return _Check(False, "it has no holdout NDCG")
    if theirs is None:  # versions trained before NDCG was recorded
        return _Check(True, f"holdout NDCG {ours:.4f}, v{active.version} has none")
    return _compare("NDCG", ours, theirs, theirs - ours, active.version, "ACTIVATION_NDCG_TOLERANCE", tolerance)


def _compare(metric: str, ours: float, theirs: float, loss: float, version: int, setting: str,
             tolerance: float) -> _Check:
    said = f"holdout {metric} {ours:.4f} against v{version}'s {theirs:.4f}"
    if loss <= 0:
        return _Check(True, f"{said}, no worse")
    if loss <= tolerance:
        return _Check(True, f"{said}, worse by {loss:.4f}, within {setting}={tolerance:g}")
    return _Check(False, f"{said}, worse by {loss:.4f}, more than {setting}={tolerance:g}")
