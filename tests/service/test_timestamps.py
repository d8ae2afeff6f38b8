"""Every timestamp the API sends says it is UTC, on SQLite too (which stores none)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _moments(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _moments(v)]
    if isinstance(value, list):
        return [m for v in value for m in _moments(v)]
    return [value] if isinstance(value, str) and ISO_MOMENT.match(value) else []


async def test_model_job_metrics_and_stats_timestamps_are_utc(trained_app):
    _, client = trained_app
    seen: list[str] = []
    for path in ("/api/ml/models", "/api/ml/training-status", "/api/ml/metrics", "/api/ml/metrics/history",
                 "/api/ml/metrics/live", "/api/stats"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        seen += _moments(response.json())
    model = (await client.get("/api/ml/models")).json()[0]
    assert {"created_at", "trained_at", "activated_at"} <= set(model)
    assert len(seen) >= 6
    for moment in seen:
        assert moment.endswith("Z"), moment
        parsed = datetime.fromisoformat(moment)
        assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    trained = datetime.fromisoformat(model["trained_at"])
    assert abs((datetime.now(UTC) - trained).total_seconds()) < 600  # UTC indeed, not local time labelled Z
