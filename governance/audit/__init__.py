"""Tamper-evident audit trail. Every governed write goes through `governance.audit.recorder.record`."""
