"""lineage.store quotes the array arguments of its prepared EXECUTEs itself (_array_literal) instead of
through psycopg2's mogrify: PostgreSQL must read each to the very values mogrify's text gives, and what
it does not handle must be left to psycopg2 (None), whose errors (a NUL, a lone surrogate) stay as they
were."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from lineage import store
from lineage.models import Node

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

TEXTS = ["", "plain", "it's", "''", "back\\slash", "\\", "E'\\x41'", "new\nline", "tab\t", "cr\r", "%s", "%(x)s", "%%",
         "é ü ß", "😀 emoji", "quote \" double", "$1", "$$ dollar $$", "{\"json\": [1, \"a'b\"]}", "NULL", "null", "{}",
         "ARRAY[1]", "--comment", "/* c */", ";", "a,b", "{a,b}", " spaced ", "\u2028sep", None]
INTS = [0, 1, -1, 2**63 - 1, -2**63, 2**31, None]
TIMES = [dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
         dt.datetime(1999, 12, 31, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
         dt.datetime(2030, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=-8))), dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc), None]


def _read(text: str, kind: str):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {text}::{kind}")
        return cur.fetchone()[0]


@pytest.mark.parametrize("kind, values", [
    ("text[]", TEXTS), ("jsonb[]", ['{"a": "it\'s"}', '"\\\\"', "[1, 2.5, null]", '"\\u00e9"', None]),
    ("bigint[]", INTS), ("integer[]", [0, 7, -2**31, 2**31 - 1, None]), ("timestamptz[]", TIMES),
    ("boolean[]", [True, False, None]), ("text[]", []), ("bigint[]", [None]), ("timestamptz[]", []),
])
def test_postgresql_reads_the_same_values_as_from_mogrify(kind, values):
    # the whole list, then each value alone (one-value arrays take a shorter way)
    for array in [values] + [[v] for v in values]:
        mogrified = connection.connection.cursor().mogrify("%s", [array]).decode()
        mine = store._array_literal(array, kind)
        assert mine is not None, array
        assert _read(mine, kind) == _read(mogrified, kind), array
        if kind == "text[]":
            assert _read(mine, kind) == array


@pytest.mark.parametrize("kind, values", [
    ("bigint[]", [True]), ("bigint[]", [1.0]), ("text[]", [1]), ("text[]", [b"bytes"]),
    ("timestamptz[]", [dt.datetime(2024, 1, 1)]), ("timestamptz[]", [dt.date(2024, 1, 1)]), ("boolean[]", [1]),
    ("numeric[]", [1]), ("text[]", ["a", 1]), ("bigint[]", [1, "2"]), ("timestamptz[]", [None, dt.datetime(2024, 1, 1)]),
])
def test_values_it_does_not_quote_are_left_to_psycopg2(kind, values):
    assert store._array_literal(values, kind) is None


@pytest.mark.parametrize("bad, error", [("nul\x00here", ValueError), ("lone \ud800 surrogate", UnicodeEncodeError)])
def test_text_psycopg2_refuses_is_refused_as_before(bad, error):
    connection.ensure_connection()
    writes = store._Writes()
    assert writes.literals
    stmt = store._insert_statement(Node, [Node._meta.get_field("name")])
    with pytest.raises(error), transaction.atomic():
        writes.run_prepared(stmt, [[bad]])
    assert not writes.held
