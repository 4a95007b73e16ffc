"""Marquez's query parameters, read strictly: a bad value is a 400 naming it, before any query runs.

`as_of` is this project's extension (Marquez has none): any read answers as the store stood at that time.
"""
from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_date, parse_datetime

from lineage.marquez.errors import BadRequest

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000


def integer(params, name: str, default: int, *, low: int = 0, high: int | None = None,
            error: str | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"query param {name} must be an integer, not {raw!r}", error) from None
    if value < low:
        raise BadRequest(f"query param {name} must be greater than or equal to {low}", error)
    if high is not None and value > high:
        raise BadRequest(f"query param {name} must be less than or equal to {high}", error)
    return value


def paging(params, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """(limit, offset); Marquez's defaults (100, 0), a limit above MAX_LIMIT refused rather than served."""
    return (integer(params, "limit", default_limit, low=0, high=MAX_LIMIT),
            integer(params, "offset", 0, low=0, high=MAX_OFFSET))


def timestamp(params, name: str) -> dt.datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:  # Django's parsers answer None for a malformed text and raise for a well-formed impossible one
        value = parse_datetime(raw.strip().replace(" ", "+")) if isinstance(raw, str) else None
        day = parse_date(raw) if value is None and isinstance(raw, str) else None
    except ValueError:
        value = day = None
    if value is None:
        if day is None:
            raise BadRequest(f"query param {name} must be an ISO 8601 date-time, not {raw!r}")
        value = dt.datetime.combine(day, dt.time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    try:  # a time the database cannot hold once shifted to UTC or by a day either side (year 1, year 9999)
        value.astimezone(dt.timezone.utc) - dt.timedelta(days=1) + dt.timedelta(days=2)
    except OverflowError:
        raise BadRequest(f"query param {name} is out of range: {raw!r}") from None
    return value


def as_of(params) -> dt.datetime | None:
    return timestamp(params, "as_of")


def boolean(params, name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    lowered = str(raw).lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"query param {name} must be true or false, not {raw!r}")


def choice(params, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    upper = str(raw).upper()
    if upper not in allowed:
        raise BadRequest(f"query param {name} must be one of {', '.join(allowed)}, not {raw!r}")
    return upper
