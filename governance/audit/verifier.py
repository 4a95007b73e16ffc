"""Walking an audit chain and naming its first broken link. Standard library only.

One walker serves both the server (`verify.py`, fed from the database) and the offline script
(`offline_verify.py`, fed from an export file), so the two can never disagree about what "intact" means.

What each check catches, when someone with database access edits the tables behind the application's back:
- a changed field: the entry's content no longer hashes to its `hash`;
- a deleted row: a gap in `seq`;
- an inserted, replaced or reordered row: its `prev_hash` no longer links to the entry before it;
- a whole rewritten history (every hash recomputed): the entry at a checkpoint differs from what the
  checkpoint signed;
- a truncated tail: a checkpoint vouches for an entry that no longer exists, or its announcing entry is gone;
- a forged or altered checkpoint: its signature does not verify; a deleted one: its announcement dangles.
Entries after the newest checkpoint are reported as unsigned: cutting those off cannot be detected, which
is why checkpoints are written every AUDIT_CHECKPOINT_EVERY entries and on demand.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from governance.audit import chain


@dataclass
class Break:
    seq: int | None
    reason: str


@dataclass
class Result:
    ok: bool
    entries_checked: int = 0
    verified_from: int | None = None
    verified_to: int | None = None
    checkpoints_verified: int = 0
    latest_checkpoint: int | None = None
    unsigned_tail: int = 0
    first_break: Break | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["first_break"] = asdict(self.first_break) if self.first_break else None
        return data

    def summary(self) -> str:
        span = f"seq {self.verified_from}..{self.verified_to}" if self.verified_to else "no entries"
        text = (
            f"{'OK' if self.ok else 'BROKEN'}: verified {span} ({self.entries_checked} entries checked), "
            f"{self.checkpoints_verified} signed checkpoints verified"
        )
        if self.latest_checkpoint is not None:
            text += f", latest at seq {self.latest_checkpoint}"
        if self.unsigned_tail:
            text += f"; {self.unsigned_tail} entries after the latest checkpoint are not yet signed"
        if self.first_break:
            text += f"\nfirst broken link at seq {self.first_break.seq}: {self.first_break.reason}"
        return text


class ChainWalk:
    """Feed entries in seq order with `feed`; call `finish` at the end.

    `checkpoints` are the signed checkpoints that apply to the range being walked; `keys` maps key_id to
    (algorithm, key bytes) as `chain.signature_problem` expects. For a range that does not start at seq 1,
    pass `start_seq` and leave `start_hash` None: the first entry's prev_hash is then taken on trust.
    """

    def __init__(
        self, checkpoints, keys, *, ed25519_verify=None, start_seq: int = 1, start_hash: str | None = chain.GENESIS,
        lookup=None, check_signatures: bool = True,
    ):
        self.check_signatures = check_signatures
        # lookup(seq) -> checkpoint dict or None: finds a checkpoint signed after `checkpoints` was read
        # (the server verifies a live chain that keeps growing).
        self.lookup = lookup
        self.checkpoints = {}
        self.keys = keys
        self.ed25519_verify = ed25519_verify
        self.expected_seq = start_seq
        self.prev_hash = start_hash
        self.result = Result(ok=True, verified_from=start_seq)
        self._pending_announcement = None  # checkpoint whose announcing entry must come next
        for cp in checkpoints:
            self.checkpoints[cp.get("seq")] = cp
        self._broken = False

    def _break(self, seq, reason: str) -> bool:
        self.result.ok = False
        self.result.first_break = Break(seq=seq, reason=reason)
        self._broken = True
        return False

    def feed(self, entry: dict) -> bool:
        """Check one entry; False once the chain is broken (stop feeding then)."""
        body = {name: entry.get(name) for name in chain.HASHED_FIELDS}
        return self.feed_body(body, entry.get("prev_hash"), entry.get("hash"))

    def feed_body(self, entry: dict, prev_hash, digest) -> bool:
        """`feed` for an entry already split into its hashed fields, prev_hash and hash."""
        if self._broken:
            return False
        seq = entry.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self._break(seq, f"entry after seq {self.expected_seq - 1} has no integer seq")
        if seq > self.expected_seq:
            missing = f"{self.expected_seq}" if seq == self.expected_seq + 1 else f"{self.expected_seq}..{seq - 1}"
            return self._break(self.expected_seq, f"entries {missing} are missing (rows deleted)")
        if seq < self.expected_seq:
            return self._break(seq, f"entry {seq} appears after entry {self.expected_seq - 1} (rows out of order)")
        if self.prev_hash is None:
            self.prev_hash = prev_hash
            self.result.notes.append(f"the range starts at seq {seq}; its link to entry {seq - 1} is taken on trust")
        if prev_hash != self.prev_hash:
            return self._break(
                seq, f"prev_hash does not link to entry {seq - 1}'s hash (a row was inserted, replaced or reordered)"
            )
        if chain.body_hash(self.prev_hash, entry) != digest:
            return self._break(seq, "content does not match its hash (a field was changed)")
        if self._pending_announcement is not None and not self._announces(entry, self._pending_announcement):
            return self._break(
                seq,
                f"entry {seq} should announce the checkpoint at seq {seq - 1} but does not "
                "(the checkpoint was forged, or entries were replaced)",
            )
        self._pending_announcement = None
        if entry.get("action") == chain.CHECKPOINT_ACTION:
            announced = (entry.get("after") or {}).get("seq")
            in_range = self.result.verified_from is not None and announced is not None and announced >= self.result.verified_from
            if announced == seq - 1 and in_range and announced not in self.checkpoints:
                late = self.lookup(announced) if self.lookup else None
                if late is None:
                    return self._break(seq, f"entry {seq} announces a checkpoint at seq {announced} that is missing (deleted)")
                problem = self._signature_problem(late)
                if problem:
                    return self._break(announced, f"checkpoint at seq {announced}: {problem}")
                if late.get("entry_hash") != self.prev_hash or not self._announces(entry, late):
                    return self._break(announced, f"checkpoint at seq {announced} does not match entry {announced}")
                self.checkpoints[announced] = late
                self.result.checkpoints_verified += 1
                self.result.latest_checkpoint = announced
                self.result.unsigned_tail = -1
        cp = self.checkpoints.get(seq)
        if cp is not None:
            problem = self._signature_problem(cp)
            if problem:
                return self._break(seq, f"checkpoint at seq {seq}: {problem}")
            if cp.get("entry_hash") != digest:
                return self._break(
                    seq,
                    f"entry {seq}'s hash differs from the one its signed checkpoint vouches for (history was rewritten)",
                )
            self.result.checkpoints_verified += 1
            self.result.latest_checkpoint = seq
            # Counted back up to zero by this entry and by the announcement that follows, which is part of
            # the checkpoint rather than an unsigned entry.
            self.result.unsigned_tail = -2
            self._pending_announcement = cp
        self.prev_hash = digest
        self.expected_seq = seq + 1
        self.result.entries_checked += 1
        self.result.verified_to = seq
        self.result.unsigned_tail += 1
        return True

    def _signature_problem(self, cp: dict) -> str | None:
        if not self.check_signatures:
            return None
        return chain.signature_problem(cp, self.keys, self.ed25519_verify)

    @staticmethod
    def _announces(entry: dict, cp: dict) -> bool:
        after = entry.get("after") or {}
        return (
            entry.get("action") == chain.CHECKPOINT_ACTION
            and after.get("seq") == cp.get("seq")
            and after.get("entry_hash") == cp.get("entry_hash")
            and after.get("signature") == cp.get("signature")
        )

    def finish(self) -> Result:
        if self._broken:
            return self.result
        last = self.expected_seq - 1
        beyond = sorted(s for s in self.checkpoints if isinstance(s, int) and s > last)
        if beyond:
            self._break(
                last + 1,
                f"a signed checkpoint vouches for entry {beyond[-1]} but the chain ends at {last} (the tail was truncated)",
            )
        elif self._pending_announcement is not None:
            self._break(
                last + 1,
                f"the checkpoint at seq {last} is not followed by its announcing entry {last + 1} (the tail was truncated)",
            )
        if self.result.entries_checked == 0:
            self.result.verified_from = None
        self.result.unsigned_tail = max(self.result.unsigned_tail, 0)
        return self.result


def verify_excerpt(entries: list[dict], checkpoint: dict | None, keys: dict, *, ed25519_verify=None) -> Result:
    """Verify a non-contiguous excerpt (e.g. the entries about one model version in an evidence bundle).

    Each entry must hash correctly from its own prev_hash; consecutive seqs must link; the checkpoint must
    carry a good signature and, where it falls on or right after an excerpt entry, agree with it. An entry
    is bound to the signed checkpoint only through an unbroken run of entries up to the checkpoint's seq;
    entries that are not so bound are named in the notes (their content is self-consistent, but only the
    full trail, or an export of the run between, can prove they were not replaced).
    """
    result = Result(ok=True)
    previous = None
    for entry in entries:
        seq = entry.get("seq")
        if not isinstance(seq, int) or (previous is not None and seq <= previous["seq"]):
            result.ok, result.first_break = False, Break(seq, "entries are not in increasing seq order")
            return result
        if seq == 1 and entry.get("prev_hash") != chain.GENESIS:
            result.ok, result.first_break = False, Break(seq, "entry 1 does not start from the genesis hash")
            return result
        if chain.entry_hash(entry.get("prev_hash") or "", entry) != entry.get("hash"):
            result.ok, result.first_break = False, Break(seq, "content does not match its hash (a field was changed)")
            return result
        if previous is not None and seq == previous["seq"] + 1 and entry.get("prev_hash") != previous.get("hash"):
            result.ok, result.first_break = False, Break(seq, f"prev_hash does not link to entry {seq - 1}")
            return result
        result.entries_checked += 1
        result.verified_from = seq if result.verified_from is None else result.verified_from
        result.verified_to = seq
        previous = entry
    if checkpoint is None:
        result.notes.append("no checkpoint given: the entries are self-consistent but not bound to a signature")
        return result
    cp_seq = checkpoint.get("seq")
    problem = chain.signature_problem(checkpoint, keys, ed25519_verify)
    if problem:
        result.ok, result.first_break = False, Break(cp_seq, f"checkpoint at seq {cp_seq}: {problem}")
        return result
    by_seq = {e["seq"]: e for e in entries}
    if cp_seq in by_seq and by_seq[cp_seq].get("hash") != checkpoint.get("entry_hash"):
        result.ok, result.first_break = False, Break(cp_seq, f"entry {cp_seq} differs from the one its signed checkpoint vouches for")
        return result
    result.checkpoints_verified = 1
    result.latest_checkpoint = cp_seq
    bound, seq = set(), cp_seq
    while seq in by_seq and by_seq[seq].get("hash") == (checkpoint.get("entry_hash") if seq == cp_seq else by_seq[seq + 1].get("prev_hash")):
        bound.add(seq)
        seq -= 1
    unbound = [e["seq"] for e in entries if e["seq"] not in bound]
    if unbound:
        result.notes.append(
            f"entries {unbound} are not linked to the checkpoint at seq {cp_seq} by an unbroken run of entries"
        )
    return result
