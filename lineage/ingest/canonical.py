"""The canonical text of a decoded OpenLineage event (sorted keys, no spaces, UTF-8), encoded with orjson.

The ledger's digests are SHA-256 of exactly the text `json.dumps(body, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` gives (lineage.store.canonical_digest; every stored digest was made that way), so a
faster encoder is only usable where it writes the same bytes. For what a JSON body decodes to (dicts of
str keys, lists, str, int, float, bool, None) orjson does, with two exceptions that fall back to json:
- a float Python writes with an exponent (below 1e-4 or from 1e16: `1e-05`, `1e+16`), which orjson
  writes otherwise (`1e-5`, `0.000012`, `1e16`): looked for in orjson's output as a number token of that
  size; a string that merely looks like one (`":1e5,"`) also takes the fallback, which costs time,
  never a different digest;
- what orjson refuses: an integer beyond 64 bits, a lone surrogate (then the json text's UTF-8 encoding
  fails too, and the caller reports the bad text).
Decoding then encoding with orjson was a fifth of json's cost per event (tests/ingest/
test_ingest_canonical_orjson.py proves the bytes equal over the shared OpenLineage corpus and random
bodies).
"""
from __future__ import annotations

import json
import re

import orjson

# A number token (after ":", "," or "[") that Python writes with an exponent, whatever orjson made of it:
# one with an exponent already, one below 1e-4 written out (0.0000…), or one of 17 digits or more before
# its point (1e16 and up; integers that long match too and merely take the fallback).
_EXPONENT = re.compile(rb"[:,\[]-?(?:[0-9]+(?:\.[0-9]+)?[eE]|0\.0000|[0-9]{17})")


def json_text(body) -> str:
    """The canonical text as Python's json writes it (may hold a lone surrogate: not encodable)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_bytes(body) -> bytes | None:
    """The canonical text's UTF-8 bytes, or None when the text holds a lone surrogate (no UTF-8 exists)."""
    try:
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        data = None
    if data is None or _EXPONENT.search(data):
        try:
            return json_text(body).encode("utf-8")
        except UnicodeEncodeError:
            return None
    return data


# has_long_number: every ASCII digit made "0", then one substring search for nineteen of them.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def has_long_number(text: str) -> bool:
    """Whether `text` holds a run of 19 or more ASCII digits: where orjson may read an integer beyond 64 bits
    as a float, which json reads exactly (lineage.store._json_from_db's test). The same answer as
    `re.search("[0-9]{19}", text)` (UTF-8 never puts an ASCII byte inside a multi-byte character;
    surrogatepass keeps a lone surrogate encodable), at a seventeenth of its cost: the regex tried each
    position in turn, 9 µs for a node's 600 characters of properties, five nodes per event."""
    return _NINETEEN_DIGITS in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)
