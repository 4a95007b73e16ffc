"""The archive's writes as the dashboard makes them: build an evidence bundle, place and lift legal holds.

Each goes through the same input validation (the archive API's serializers), the same role rule
(auditors and admins; governance/archive/rules.py) and the same services (services.build_bundle,
builds.enqueue, holds.place_hold / release_hold, which audit every write) as the API. Callers check the
role on the server first (dashboard.auth.guarded); the functions here check it again, so they cannot
be used to skip it. Refusals come back as Refused with a message to show as it is.
"""
from __future__ import annotations

from dataclasses import dataclass

from governance.archive import rules


class Refused(Exception):
    """The archive refused the action; the message says why in words a person can act on."""


@dataclass
class BuildOutcome:
    """A bundle built in the request (no broker), or a build queued for the workers (a broker is set)."""

    bundle: object | None = None
    build: object | None = None


def _errors(serializer) -> str:
    parts = []
    for field, messages in serializer.errors.items():
        text = " ".join(str(m) for m in (messages if isinstance(messages, list) else [messages]))
        parts.append(text if field in ("non_field_errors", "detail") else f"{field}: {text}")
    return "; ".join(parts)


def _require(user, action: str, what: str) -> None:
    """The archive's own rule (governance/archive/rules.py), as the API's permission class asks it."""
    if not rules.RULES.allows(user, action):
        raise Refused(f"{what} needs the role {' or '.join(rules.RULES.roles_for(action))} (or admin).")


def build_bundle(user, node_id, depth) -> BuildOutcome:
    """What POST /api/archive/bundles/ does: queued for the workers when a broker is configured (the
    build's state is then polled from the builds table), otherwise built now."""
    from governance.archive import builds, services
    from governance.archive.api.serializers import BundleCreateSerializer
    from governance.archive.closure import ClosureTooLarge
    from governance.celery import broker_configured

    _require(user, "build", "Building an evidence bundle")
    data = {"node": node_id} if depth in (None, "") else {"node": node_id, "depth": depth}
    params = BundleCreateSerializer(data=data)
    if not params.is_valid():
        raise Refused(_errors(params))
    node, depth = params.validated_data["node"], params.validated_data["depth"]
    if broker_configured():
        try:
            return BuildOutcome(build=builds.enqueue(node, user, depth))
        except builds.QueueUnavailable as exc:
            raise Refused(f"The task broker cannot be reached; build #{exc.build.pk} was not queued "
                          "and stands as failed.") from None
    try:
        return BuildOutcome(bundle=services.build_bundle(node, user, depth=depth))
    except (services.BundleError, ClosureTooLarge) as exc:
        raise Refused(str(exc)) from None


def place_hold(user, node_id, reason: str):
    from governance.archive import holds
    from governance.archive.api.serializers import LegalHoldSerializer

    _require(user, "hold", "Placing a legal hold")
    params = LegalHoldSerializer(data={"node": node_id, "reason": reason or ""})
    if not params.is_valid():
        raise Refused(_errors(params))
    try:
        return holds.place_hold(params.validated_data["node"], user, params.validated_data["reason"])
    except holds.HoldError as exc:
        raise Refused(str(exc)) from None


def release_hold(user, hold_id, reason: str):
    from governance.archive import holds
    from governance.archive.api.serializers import ReleaseSerializer
    from governance.archive.models import LegalHold

    _require(user, "hold", "Lifting a legal hold")
    hold = LegalHold.objects.filter(pk=hold_id).first() if str(hold_id or "").isdigit() else None
    if hold is None:
        raise Refused(f"There is no legal hold #{hold_id}." if hold_id else "Pick the hold to lift.")
    params = ReleaseSerializer(data={"reason": reason or ""})
    if not params.is_valid():
        raise Refused("Lifting a hold needs a reason: " + _errors(params))
    try:
        return holds.release_hold(hold, user, params.validated_data["reason"])
    except holds.HoldError as exc:
        raise Refused(str(exc)) from None
