"""Bundle builds as jobs for the task workers: queue one, run it on a worker, record how it ended.

Rendering a bundle of a large closure takes minutes, longer than an HTTP request should wait, so with a
broker configured the API queues the build and answers 202 with a BundleBuild to poll. Without a broker
(the embedded default) the API builds in the request as it always did and no job is recorded: a job row
that is created and closed within one request would only say what the 201 already says.

Every transition is audited in the same transaction as the write it describes, as the requester (their
user and request id travel with the task as `common.audit.context.snapshot()`):

    bundle_build.create   queued, in the request, committed before the task is sent (a worker finds the row)
    bundle_build.start    a worker took it (`attempt` > 1: redelivered after a worker died)
    bundle.create         the bundle itself (governance.archive.services)
    bundle_build.done     in the transaction that registers the bundle, so both land or neither
    bundle_build.failed   refused (closure too large, node gone), crashed, or never queued (broker down)

Tasks are acknowledged late and handed back when their worker dies (governance/celery.py), so a build may
run again. That is safe: a `done` or `failed` build is not run again, and a build left `running` by a dead
worker renders again from scratch; the first attempt at most left an unregistered file in the
content-addressed store.
"""
from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from governance.archive import services
from governance.archive.closure import ClosureTooLarge
from governance.archive.models import BuildState, BundleBuild
from common.audit import context, record

FINAL = (BuildState.DONE, BuildState.FAILED)


class QueueUnavailable(Exception):
    """The broker refused or could not be reached; the build was closed as failed."""

    def __init__(self, build: BundleBuild, cause: BaseException):
        super().__init__(f"the bundle build could not be queued: {type(cause).__name__}: {cause}")
        self.build = build


def audit_data(build: BundleBuild) -> dict:
    return {"node": build.node_id, "subject_kind": build.subject_kind, "subject_source_id": build.subject_source_id,
            "depth": build.depth, "state": build.state, "task_id": build.task_id, "bundle": build.bundle_id,
            "error": build.error}


def enqueue(node, user, depth: int) -> BundleBuild:
    """Record a queued build of `node` for `user` and send it to the workers; return it as queued. Raises
    QueueUnavailable (the build then stands as failed) when the broker cannot take it."""
    from governance.archive.tasks import build_bundle_task

    ctx = context.snapshot()
    task_id = str(uuid.uuid4())
    user = user if getattr(user, "pk", None) else None
    with transaction.atomic():
        build = BundleBuild.objects.create(
            node=node, subject_kind=node.kind, subject_source_id=node.source_id, depth=depth, requested_by=user,
            requested_by_username=getattr(user, "username", "") or ctx.get("username") or "",
            request_id=ctx.get("request_id") or "", task_id=task_id)
        record("bundle_build.create", "bundle_build", build.pk, after=audit_data(build))
    try:
        # After the commit above: a worker that takes the task at once finds the row.
        build_bundle_task.apply_async((node.pk, getattr(user, "pk", None), depth, ctx, build.pk), task_id=task_id)
    except Exception as exc:
        build.refresh_from_db()
        if build.state != BuildState.QUEUED:
            raise  # the task ran in-process (eager) and failed on its own; it already recorded why
        fail(build.pk, f"the build could not be queued: {type(exc).__name__}: {exc}")
        build.refresh_from_db()
        raise QueueUnavailable(build, exc) from exc
    return build  # as queued: what a worker has done since is the poller's to read


def start(build_id: int) -> BundleBuild | None:
    """Mark the build running for one more attempt, unless it already ended (then return it unchanged).
    None when the row is gone."""
    with transaction.atomic():
        build = BundleBuild.objects.select_for_update().filter(pk=build_id).first()
        if build is None or build.state in FINAL:
            return build
        before = build.state
        build.state = BuildState.RUNNING
        build.attempts += 1
        build.started_at = timezone.now()
        build.save(update_fields=["state", "attempts", "started_at"])
        record("bundle_build.start", "bundle_build", build.pk, before={"state": before},
               after={"state": build.state, "attempt": build.attempts, "task_id": build.task_id})
    return build


class Superseded(Exception):
    """This attempt's build ended, or a later attempt took it over, while it rendered (a task handed to a
    second worker after the broker's visibility timeout while the first still ran): its bundle must not
    be registered a second time."""


def _done(build_id: int, attempt: int, bundle, ctx) -> None:
    """Called by services.build_bundle inside the transaction that registers `bundle`; raises Superseded
    (rolling that registration back) unless this attempt is still the build's running one."""
    build = BundleBuild.objects.select_for_update().get(pk=build_id)
    if build.state != BuildState.RUNNING or build.attempts != attempt:
        raise Superseded(f"bundle build {build_id} attempt {attempt}: now {build.state}, attempt {build.attempts}")
    before = build.state
    build.state, build.bundle, build.error, build.finished_at = BuildState.DONE, bundle, "", timezone.now()
    build.save(update_fields=["state", "bundle", "error", "finished_at"])
    record("bundle_build.done", "bundle_build", build.pk, before={"state": before},
           after={"state": build.state, "bundle": bundle.pk, "sha256": bundle.sha256, "attempt": build.attempts},
           ctx=ctx)


def fail(build_id: int, reason: str) -> bool:
    """Close the build as failed with `reason` (audited). False, changing nothing, when it already ended."""
    with transaction.atomic():
        build = BundleBuild.objects.select_for_update().filter(pk=build_id).first()
        if build is None or build.state in FINAL:
            return False
        before = build.state
        build.state, build.error, build.finished_at = BuildState.FAILED, reason, timezone.now()
        build.save(update_fields=["state", "error", "finished_at"])
        record("bundle_build.failed", "bundle_build", build.pk, before={"state": before},
               after={"state": build.state, "error": reason, "attempt": build.attempts})
    return True


def run(build_id: int, ctx: dict | None) -> dict:
    """The worker's side: build the bundle of build `build_id` as its requester (`ctx`)."""
    with context.restore(ctx):
        build = start(build_id)
        if build is None:
            return {"build": build_id, "state": "missing", "error": f"no bundle build {build_id}"}
        if build.state in FINAL:  # a redelivered task whose build already ended
            return _outcome(build)
        if build.node_id is None:
            fail(build.pk, f"the node {build.subject_kind}:{build.subject_source_id} is no longer in the store")
        else:
            try:
                services.build_bundle(
                    build.node, build.requested_by, depth=build.depth,
                    on_registered=lambda bundle, audit_ctx: _done(build.pk, build.attempts, bundle, audit_ctx))
            except Superseded:
                pass  # the attempt that superseded this one registers the bundle (or already did)
            except (services.BundleError, ClosureTooLarge) as exc:
                # Refused: an answer, not a crash, so the worker does not retry what cannot succeed.
                fail(build.pk, str(exc))
            except Exception as exc:
                fail(build.pk, f"{type(exc).__name__}: {exc}")
                raise
        build.refresh_from_db()
        return _outcome(build)


def _outcome(build: BundleBuild) -> dict:
    out = {"build": build.pk, "state": build.state}
    if build.state == BuildState.DONE and build.bundle_id:
        out.update(bundle=build.bundle_id, sha256=build.bundle.sha256, nodes=build.bundle.node_count)
    if build.error:
        out["error"] = build.error
    return out
