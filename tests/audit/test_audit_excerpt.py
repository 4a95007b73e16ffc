"""Excerpts for evidence bundles: the entries about one object plus the checkpoint that vouches for them,
verifiable without the database."""
import pytest

from governance.audit import chain, excerpt, recorder
from governance.audit.verifier import verify_excerpt

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    key = settings.AUDIT_HMAC_KEY.encode()
    return {chain.hmac_key_id(key): (chain.HMAC_SHA256, key)}


@pytest.fixture
def trail(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 6
    for n in range(9):
        recorder.record("noise", "thing", n)
        if n in (1, 3):
            recorder.record("promotion.request", "model_version", "mv-9", after={"n": n})


def test_entries_for_and_nearest_checkpoint(trail, keys):
    entries = excerpt.entries_for("model_version", "mv-9")
    assert [e["after"] for e in entries] == [{"n": 1}, {"n": 3}]
    assert all(set(chain.HASHED_FIELDS) <= set(e) and e["hash"] and e["prev_hash"] for e in entries)
    cp = excerpt.nearest_checkpoint(entries[-1]["seq"])
    assert cp["seq"] >= entries[-1]["seq"] and cp["signature"]
    result = verify_excerpt(entries, cp, keys)
    assert result.ok and result.checkpoints_verified == 1
    assert "not linked to the checkpoint" in result.notes[0]
    # With the run of entries up to the checkpoint, every entry is bound to the signature.
    bound = excerpt.segment(entries[0]["seq"], cp["seq"])
    result = verify_excerpt(bound, cp, keys)
    assert result.ok and not result.notes


def test_nearest_checkpoint_in_the_unsigned_tail(trail):
    last = recorder.record("promotion.approve", "model_version", "mv-9")
    assert excerpt.nearest_checkpoint(last.seq) is None
    made = excerpt.nearest_checkpoint(last.seq, create=True)
    assert made["seq"] == last.seq
    bundle = excerpt.excerpt("model_version", "mv-9")
    assert bundle["checkpoint"] == made and len(bundle["entries"]) == 3
    assert bundle["hashed_fields"] == list(chain.HASHED_FIELDS)


def test_tampered_excerpts_are_rejected(trail, keys):
    entries = excerpt.entries_for("model_version", "mv-9")
    cp = excerpt.nearest_checkpoint(entries[-1]["seq"])
    edited = [dict(entries[0], after={"n": 100}), entries[1]]
    assert "content does not match" in verify_excerpt(edited, cp, keys).first_break.reason
    forged = dict(cp, entry_hash="f" * 64)
    assert "signature does not match" in verify_excerpt(entries, forged, keys).first_break.reason
    segment = excerpt.segment(entries[0]["seq"], cp["seq"])
    segment[2] = dict(segment[2], prev_hash=segment[0]["hash"], hash=chain.entry_hash(segment[0]["hash"], segment[2]))
    assert "does not link" in verify_excerpt(segment, cp, keys).first_break.reason
