"""lineage.store._json_text: the text the PostgreSQL fast path sends for a JSON column is json.dumps's value
(the jsonb the database makes of it is Django's), through orjson where that gives the same value — also for
values holding None, which orjson and json both write as null — and through json where orjson would write
something else (NaN and Infinity, which orjson writes as null and json as NaN / Infinity)."""
from __future__ import annotations

import json
import math
import random

import pytest

from lineage.store import _json_text


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randrange(-10**12, 10**12)
    if kind == 3:
        return rng.choice([0.5, -1.25, 1e-7, 3.0, 123456.789])
    if kind == 4:
        return rng.choice(["", "a", "é\u2028", "line\nbreak", 'quo"te', "null"])
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(4))}


@pytest.mark.parametrize("seed", range(20))
def test_values_with_and_without_none_read_back_as_json_writes_them(seed):
    rng = random.Random(seed)
    for _ in range(50):
        value = {"parent": None, "v": _value(rng)}
        assert json.loads(_json_text(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_take_jsons_way_even_beside_a_none(bad):
    for value in ({"x": bad}, {"parent": None, "x": [1, bad]}, [None, {"y": bad}]):
        assert _json_text(value) == json.dumps(value)  # NaN / Infinity, which PostgreSQL refuses, not null


def test_a_tuple_beside_a_none_keeps_its_value():
    value = {"pair": (1, 2), "parent": None}
    assert json.loads(_json_text(value)) == {"pair": [1, 2], "parent": None}
