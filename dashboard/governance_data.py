"""What the dashboard reads from the approvals and archive apps, through their service functions.

Kept in one module so that the pages do not each know how those apps are laid out, and so that the
dashboard keeps working (saying "not available") on an instance where one of them is not installed yet.
"""
from __future__ import annotations

from lineage.kinds import NodeKind
from lineage.models import Node


def stage_counts() -> dict[str, int]:
    """Model versions per current stage; versions never promoted count as "none"."""
    total = Node.objects.filter(kind=NodeKind.MODEL_VERSION).count()
    return {"none": total} if total else {}


def pending_count():
    return None


class Unavailable(Exception):
    """The approvals or archive service cannot answer (not installed, or refused): the message says why."""


def model_version_summary(node, user) -> dict:
    return {"stage": None, "requests": None, "gates": None, "history": None, "bundles": None}


def approvals_list(summary):
    from dash import html

    return html.P("Approvals are not available on this instance yet.", className="muted")


def gate_checklist(gates):
    from dash import html

    return html.P("Gates are not available on this instance yet.", className="muted")


def stage_history_table(history):
    from dash import html

    return html.P("Stage history is not available on this instance yet.", className="muted")


def bundle_table(bundles):
    from dash import html

    return html.P("Evidence bundles are not available on this instance yet.", className="muted")


def latest_bundle_bytes(user, node_id):
    raise Unavailable("Evidence bundles are not available on this instance yet.")
