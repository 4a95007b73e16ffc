"""Who is acting and under which request id, carried across function calls and into background jobs.

A contextvar rather than a thread-local so that the same code works in request threads, Celery tasks
and management commands: each sets the context once at its entry point.
"""
from __future__ import annotations

import contextlib
import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditContext:
    user_id: int | None = None
    username: str = "system"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client_ip: str | None = None
    # A named service actor (e.g. "harvester:kubeflow") when no human is directly acting.
    service: str | None = None


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("audit_context", default=None)


def current() -> AuditContext:
    ctx = _current.get()
    if ctx is None:
        ctx = AuditContext()
        _current.set(ctx)
    return ctx


@contextlib.contextmanager
def acting_as(ctx: AuditContext):
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def for_user(user, request_id: str | None = None, client_ip: str | None = None, service: str | None = None) -> AuditContext:
    return AuditContext(
        user_id=getattr(user, "pk", None),
        username=getattr(user, "username", None) or (service or "system"),
        request_id=request_id or uuid.uuid4().hex,
        client_ip=client_ip,
        service=service,
    )


def set_current(ctx: AuditContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def snapshot() -> dict:
    """The current actor and request id as plain data, to hand to a Celery task or a thread.

    Plain data because a task's arguments are serialized (JSON) on their way through the broker.
    """
    ctx = current()
    return {
        "user_id": ctx.user_id,
        "username": ctx.username,
        "request_id": ctx.request_id,
        "client_ip": ctx.client_ip,
        "service": ctx.service,
    }


@contextlib.contextmanager
def restore(data: dict | None):
    """Act, inside a background job, as whoever started it (see `snapshot`). None: act as "system"."""
    if not data:
        with acting_as(AuditContext()) as ctx:
            yield ctx
        return
    known = {name: data[name] for name in ("user_id", "username", "request_id", "client_ip", "service") if name in data}
    with acting_as(AuditContext(**known)) as ctx:
        yield ctx
