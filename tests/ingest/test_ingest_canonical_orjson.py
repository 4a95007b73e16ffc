"""The ingest's canonical text (orjson, lineage.ingest.canonical) is byte for byte the text every stored
digest was made from (json.dumps with sorted keys, no spaces, UTF-8): over the shared OpenLineage corpus and
over random JSON bodies with the values where the two encoders could differ (floats with exponents, control
characters, non-ASCII and astral keys, big integers, lone surrogates)."""
from __future__ import annotations

import hashlib
import json
import random

import pytest

from lineage.ingest.canonical import canonical_bytes, json_text
from lineage.store import canonical_digest
from tests.conftest import shared_fixture


def _corpus():
    folder = shared_fixture("openlineage", "events")
    return sorted(folder.glob("*.json"))


def test_the_shared_corpus_encodes_to_the_same_bytes():
    files = _corpus()
    assert len(files) > 100
    for path in files:
        body = json.loads(path.read_bytes())
        data = canonical_bytes(body)
        assert data == json_text(body).encode("utf-8"), path.name
        assert hashlib.sha256(data).hexdigest() == canonical_digest(body), path.name


_ALPHABET = ["a", "Z", "0", "é", "ß", "€", "\u2028", "\x7f", "\x00", "\x1f", "\t", "\n", '"', "\\", "/", "😀", "𝔘", "中", " "]


def _text(rng):
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8)))


def _number(rng):
    return rng.choice([
        rng.randint(-2**63, 2**64 - 1), rng.randint(-10, 10), 2**70, -(2**65),
        rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30), -0.0, 0.0, 1.0, 1e16, 1e-5,
        1.5e300, 5e-324, 123456789012345680000.0, 0.1 + 0.2,
    ])


def _value(rng, depth=0):
    kind = rng.randint(0, 6 if depth < 4 else 3)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return _number(rng)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return f"{rng.randint(0, 9)}e{rng.randint(0, 9)}"  # looks like an exponent, is a string
    if kind in (4, 5):
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


@pytest.mark.parametrize("seed", range(40))
def test_random_bodies_encode_to_the_same_bytes(seed):
    rng = random.Random(seed)
    for _ in range(50):
        body = {_text(rng): _value(rng) for _ in range(rng.randint(1, 6))}
        assert canonical_bytes(body) == json_text(body).encode("utf-8"), body


def test_a_lone_surrogate_has_no_canonical_bytes():
    assert canonical_bytes({"name": "bad \ud800 text"}) is None
