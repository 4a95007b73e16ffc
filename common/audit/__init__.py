"""The audit trail as every app sees it: who is acting (`context`) and `record` / `record_many`.

The chain itself (hashing, the append lock, checkpoints) is governance.audit's: its AppConfig.ready()
installs governance.audit.recorder here. Apps below governance in the layering (lineage, the core) record
through this port, so they never import governance's domain, and every app records the same way.
Recording with no recorder installed is an error, never a silent no-op: a governed write must not
happen unaudited.
"""
from __future__ import annotations

_recorder = None


class NoRecorder(RuntimeError):
    """governance.audit is not in INSTALLED_APPS (or Django is not set up yet)."""


def install(recorder) -> None:
    """`recorder`: an object (a module) with `record` and `record_many` of governance.audit.recorder's
    signatures. Looked up on each call, so patching the module in a test reaches every caller."""
    global _recorder
    _recorder = recorder


def _installed():
    if _recorder is None:
        raise NoRecorder("no audit recorder is installed: add governance.audit to INSTALLED_APPS")
    return _recorder


def record(action: str, object_type: str, object_id="", **kwargs):
    """Append one entry (see governance.audit.recorder.record): inside the caller's transaction, so the
    write and its entry land together or not at all."""
    return _installed().record(action, object_type, object_id, **kwargs)


def record_many(items, **kwargs) -> list:
    """Append many entries under one lock (see governance.audit.recorder.record_many)."""
    return _installed().record_many(items, **kwargs)

