"""Plain-SQL helpers shared by the Marquez reads: one statement text for "now" and for `as_of`.

Templates name their variable parts `IN ({ids})` (an IN list on SQLite, one array, `= ANY(%s)`, on PostgreSQL) and `{live:ALIAS}` (the edge ALIAS holds: open now,
or valid at `as_of` as lineage.graph defines it); `render` fills them in reading order, so the positional
parameters line up on both PostgreSQL and SQLite.
"""
from __future__ import annotations

import re

from django.db import connection

CHUNK = 2000  # ids per IN list, as lineage.store
_TOKEN = re.compile(r"\{(ids|live:[a-z_]+)\}")


def db_time(as_of):
    return None if as_of is None else connection.ops.adapt_datetimefield_value(as_of)


_IN_IDS = "IN ({ids})"


def render(template: str, ids=(), as_of=None) -> tuple[str, list]:
    """The statement and its parameters. On PostgreSQL `IN ({ids})` becomes `= ANY(%s)` with the ids as one
    array: measured on the 1M-node bench graph, a walk level's statement over 390 jobs took 0.3 ms to plan
    and 1.1–1.8 ms to run that way against 0.5 and 3.7–3.9 ms with an IN list of 390 values."""
    ids = list(ids)
    when = db_time(as_of)
    params: list = []
    if ids and connection.vendor == "postgresql":
        template = template.replace(_IN_IDS, "= ANY({ids})")

    def fill(match: re.Match) -> str:
        token = match.group(1)
        if token == "ids":
            if match.string[max(match.start() - 4, 0):match.start()] == "ANY(":
                params.append(ids)
                return "%s"
            params.extend(ids)
            return ",".join(["%s"] * len(ids)) or "NULL"
        alias = token.split(":", 1)[1]
        if when is None:
            return f"{alias}.valid_to IS NULL"
        params.extend([when, when])
        return f"({alias}.valid_from <= %s AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %s))"

    return _TOKEN.sub(fill, template), params


def rows(template: str, ids=(), as_of=None) -> list[tuple]:
    """All rows of `template` over `ids`, chunked to stay under SQLite's variable limit (one array on PostgreSQL)."""
    ids = sorted(set(ids))
    if "{ids}" in template and not ids:
        return []
    out: list[tuple] = []
    chunk = (len(ids) or 1) if connection.vendor == "postgresql" else CHUNK  # one array: no variable limit
    for start in range(0, max(len(ids), 1), chunk):
        sql, params = render(template, ids[start:start + chunk], as_of)
        with connection.cursor() as cur:
            cur.execute(sql, params)
            out.extend(cur.fetchall())
    return out
