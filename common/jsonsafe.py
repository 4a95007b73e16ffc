"""One rule for what goes into a JSON column or the audit trail: plain JSON, NaN and infinities refused.

Refused rather than turned into strings: PostgreSQL's jsonb cannot store them, they are not JSON, and a
"nan" string silently stored in place of a number is a value nobody recorded. A caller that may receive
them from outside (a connector's answer) catches the ValueError and records the failure instead."""
from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder

_STRICT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False)


def json_safe_text(value) -> tuple[object, str | None]:
    """The value as the JSON column will return it, and its canonical text (what PostgreSQL is sent).

    Round-tripping makes what is hashed exactly what is read back later (tuples become lists, dates
    strings). Raises ValueError for NaN and infinities."""
    if value is None:
        return None, None
    text = _STRICT.encode(value)
    return json.loads(text), text


class _Plain(DjangoJSONEncoder):
    """Dates, decimals and UUIDs as Django writes them (ISO 8601), anything else as its text."""

    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def json_safe(value):
    """The value as a JSON column will return it, dates in ISO 8601 (see `json_safe_text` for the rule).
    Raises ValueError for NaN and infinities."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=_Plain, allow_nan=False))
