"""The bytes-level long-number test (lineage.ingest.canonical.has_long_number) answers as the regex it
replaced, and the mapper's JSON converter reads node properties as lineage.store's does: a property text
with an integer beyond 64 bits must keep its exact value (orjson would read it as a float)."""
import random
import re

import pytest

from lineage.ingest.canonical import has_long_number
from lineage.ingest.mapping import _json_from_db as mapper_json
from lineage.models import Node
from lineage.store import _json_from_db as store_json

REGEX = re.compile(r"[0-9]{19}")


@pytest.mark.parametrize("text", [
    "", "1" * 18, "1" * 19, "x" + "9" * 19 + "y", "1" * 18 + "é" + "1", "é" * 3 + "0" * 19,
    '{"n":12345678901234567890}', '{"n":-1234567890123456789}', '{"t":"2024-01-01T00:00:00.000000+00:00"}',
    "\ud800" + "1" * 19, "\ud800" + "1" * 18, "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits: not ASCII, no match
])
def test_same_answer_as_the_regex(text):
    assert has_long_number(text) == (REGEX.search(text) is not None)


def test_same_answer_as_the_regex_on_random_digit_heavy_texts():
    rng = random.Random(18)
    alphabet = "0123456789" * 6 + "a,:.-é€\ud800 \"٣"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert has_long_number(text) == (REGEX.search(text) is not None), text


@pytest.mark.parametrize("text", [
    None, "{}", '{"a":[1,2.5,"x",null,true]}', '{"big":123456789012345678901234567890}',
    '{"neg":-9223372036854775809}', '{"u64":18446744073709551615}', '{"f":1e400}', "not json {",
])
def test_mapper_reads_properties_as_the_store_does(text):
    field = Node._meta.get_field("properties")
    try:
        expected = store_json(text, field, None)
    except Exception as exc:  # the store's way raises: the mapper's must raise the same
        with pytest.raises(type(exc)):
            mapper_json(text, field, None)
        return
    got = mapper_json(text, field, None)
    assert got == expected and repr(got) == repr(expected)
