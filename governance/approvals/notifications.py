"""E-mail through Django's mail backend: approvers hear of pending requests, requesters of decisions.

Sent after the transaction commits, one message per recipient (recipients do not see each other), from a
background thread so a slow mail server never holds the request (APPROVALS_OUTBOUND_MODE=inline sends in
the committing thread, as the tests do), and a mail server that is down is logged rather than allowed to
undo a decision already made.
"""
from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from common.roles import ADMIN, APPROVER
from governance.approvals.identity import is_author

log = logging.getLogger(__name__)


def _send(messages: list[tuple]) -> None:
    if not messages:
        return
    if settings.APPROVALS_OUTBOUND_MODE != "inline":
        from governance.approvals.webhooks import in_background

        in_background(_send_now, messages, name="promotion-mail")
        return
    _send_now(messages)


def _send_now(messages: list[tuple]) -> None:
    try:
        send_mass_mail(messages, fail_silently=False)
    except Exception:
        log.exception("could not send %d promotion e-mail(s)", len(messages))


def approver_recipients(req) -> list:
    """Active users who could approve `req`: approver role (or admin), with an address, not the requester
    and not the model's author."""
    users = (get_user_model().objects.filter(is_active=True).exclude(email="").exclude(pk=req.requester_id)
             .filter(Q(groups__name__in=[APPROVER, ADMIN]) | Q(is_superuser=True)).distinct().order_by("pk"))
    return [u for u in users if not is_author(u, req.authors)]


def _subject(req, what: str) -> str:
    node = req.node
    return f"[Lineage Ledger] {what}: {node.display_name or node.name} -> {req.target_stage.name} (request #{req.pk})"


def pending(req) -> None:
    sender = settings.DEFAULT_FROM_EMAIL
    body = (
        f"{req.requester.username} asks to promote {req.node.display_name or req.node.name} (node {req.node_id}) "
        f"to {req.target_stage.name}.\n\nJustification:\n{req.justification}\n\n"
        f"Approvals needed: {req.policy.get('required_approvals', 1)}.\n"
        f"Review it at /api/promotion-requests/{req.pk}/\n"
    )
    messages = [(_subject(req, "Approval needed"), body, sender, [u.email]) for u in approver_recipients(req)]
    transaction.on_commit(lambda: _send(messages))


def decided(req, last_decision) -> None:
    if not req.requester.email:
        return
    verdict = req.state
    body = (
        f"Your request #{req.pk} to promote {req.node.display_name or req.node.name} to {req.target_stage.name} "
        f"was {verdict} by {last_decision.actor.username}.\n"
        + (f"\nComment:\n{last_decision.comment}\n" if last_decision.comment else "")
    )
    messages = [(_subject(req, f"Request {verdict}"), body, settings.DEFAULT_FROM_EMAIL, [req.requester.email])]
    transaction.on_commit(lambda: _send(messages))
