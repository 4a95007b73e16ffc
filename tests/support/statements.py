"""Statements as PostgreSQL ran them, for tests that look at the SQL the store sends (lineage.store's fast
path prepares its statements once per connection and sends `EXECUTE name(…)` from then on)."""
from __future__ import annotations

import re

from django.db import connection

# pg_prepared_statements shows the whole query string the PREPARE came in; the store's bodies hold no ";".
_PREPARE = re.compile(r"\bPREPARE\s+(\w+)\s*\([^)]*\)\s+AS\s+([^;]*)", re.S)
# The prepared statements' own bookkeeping (lineage.store: a plan made again, the plan mode of the next ones).
_BOOKKEEPING = re.compile(r"DEALLOCATE\s|SET\s+LOCAL\s+plan_cache_mode\s")
_EXECUTE = re.compile(r"EXECUTE\s+(\w+)\s*\(", re.S)


def executed_statements(statements: list[str]) -> list[str]:
    """`statements` (one SQL statement each) with each EXECUTE replaced by the text of the statement it
    runs (from a PREPARE among them, else from this session's pg_prepared_statements), and the PREPAREs,
    DEALLOCATEs and plan-mode SETs left out: what ran, in order."""
    bodies: dict[str, str] = {}
    out = []
    for statement in statements:
        if _BOOKKEEPING.match(statement):
            continue
        prepare = _PREPARE.match(statement)
        if prepare:
            bodies[prepare.group(1)] = prepare.group(2).strip()
            continue
        execute = _EXECUTE.match(statement)
        if execute:
            name = execute.group(1)
            if name not in bodies:
                with connection.cursor() as cur:
                    cur.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name])
                    row = cur.fetchone()
                assert row is not None, f"{name} is not prepared in this session"
                # The text is the whole query string the PREPARE came in: find this name's among them.
                found = [m for m in _PREPARE.finditer(row[0]) if m.group(1) == name]
                bodies[name] = found[0].group(2).strip()
            out.append(bodies[name])
            continue
        out.append(statement)
    return out
