"""Which arm of the running experiment serves a user: a pure function of the user id
and the experiment's salt, so every request, replica and restart agrees.

The user's point is the first 8 bytes of ``sha256(salt:user_id)`` read as a fraction of
2**64, uniform on [0, 1). Arms own consecutive intervals of that line, each as wide as
its share, from 0 up to the experiment's coverage; a point at or past the coverage is
outside the experiment (served by the active version). Python's ``hash()`` would not
do: it is salted per process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

POPULARITY = "popularity"


@dataclass(frozen=True)
class Arm:
    name: str
    model_version: int | None  # None: the fallback serves
    fallback: str | None
    share: float


@dataclass(frozen=True)
class RunningExperiment:
    id: int
    name: str
    salt: str
    coverage: float
    arms: tuple[Arm, ...]

    def __post_init__(self) -> None:
        bounds, total = [], 0.0
        for arm in self.arms:
            total += arm.share
            bounds.append(total)
        object.__setattr__(self, "_bounds", tuple(bounds))

    def arm_of(self, user_id: int) -> Arm | None:
        """The arm serving this user, or None for a user outside the experiment."""
        point = user_point(self.salt, user_id)
        if point >= self.coverage:
            return None
        for arm, bound in zip(self.arms, self._bounds, strict=True):  # type: ignore[attr-defined]
            if point < bound:
                return arm
        return self.arms[-1]  # shares summing to a hair under the coverage: rounding

    def versions(self) -> set[int]:
        return {a.model_version for a in self.arms if a.model_version is not None}


def user_point(salt: str, user_id: int) -> float:
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
