"""``RETRAIN_SCHEDULE`` read into what Celery beat runs: a cron expression (a deployment's
weekly retrain) or an interval in seconds (finer than cron's minute, for a demo or a test)."""

from __future__ import annotations

import math

from celery.schedules import ParseException, crontab

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
MIN_INTERVAL_SECONDS = 1.0
EXPECTED = "a cron expression (minute hour day-of-month month day-of-week) or an interval in seconds"


def retrain_schedule(value: str, setting: str = "RETRAIN_SCHEDULE") -> float | crontab:
    """The schedule ``value`` describes; a ValueError naming the setting if it is neither form."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _cron(text, setting)
    if not (math.isfinite(seconds) and seconds >= MIN_INTERVAL_SECONDS):
        raise ValueError(
            f"{setting} must be {EXPECTED}; as an interval it must be at least "
            f"{MIN_INTERVAL_SECONDS:.0f} s, got {value!r}"
        )
    return seconds


def _cron(text: str, setting: str) -> crontab:
    fields = text.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"{setting} must be {EXPECTED}; got {text!r} ({len(fields)} fields)")
    try:
        return crontab(**dict(zip(CRON_FIELDS, fields, strict=True)))
    except (ValueError, ParseException) as exc:  # celery's own parser says which field is wrong
        raise ValueError(f"{setting} {text!r} is not a valid cron expression: {exc}") from exc
