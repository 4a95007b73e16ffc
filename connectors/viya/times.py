"""Viya timestamps as instants.

Viya's Go services trim trailing zeros from microseconds (so 4 or 5 fraction digits occur), Java services
write milliseconds, reportImages nanoseconds, casManagement `+00:00`; `0001-01-01T00:00:00Z` is Go's zero
time and means "no value"; `publishTimeStamp` is epoch milliseconds. Comparing strings would order these
wrongly, so everything is parsed to an aware datetime first.
"""
from __future__ import annotations

import datetime as dt
import re

_FRACTION = re.compile(r"\.(\d+)")
EMPTY_PREFIX = "0001-01-01"


def parse(value) -> dt.datetime | None:
    """An aware UTC datetime, or None for missing / Go zero time. Raises ValueError on garbage."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000.0, tz=dt.timezone.utc)
    text = str(value).strip()
    if text.startswith(EMPTY_PREFIX):
        return None
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def stamp(body: dict) -> str:
    """A comparable change marker for a resource: its modified time normalised to µs ISO (or "")."""
    for field in ("modifiedTimeStamp", "creationTimeStamp"):
        parsed = parse(body.get(field)) if isinstance(body, dict) else None
        if parsed:
            return iso(parsed)
    return ""
