"""Celery tasks of the archive app. Schedule `archive.apply_retention` with django-celery-beat (daily);
`archive.build_bundle` builds an evidence bundle on a worker (a large closure takes minutes to render); the
API queues it with a BundleBuild to poll when a broker is configured (governance/archive/builds.py)."""
from celery import shared_task

from governance.archive.retention import scheduled_retention


@shared_task(name="archive.apply_retention")
def apply_retention_task() -> dict:
    result = scheduled_retention()
    # The full per-node list can be large; the task result keeps the counts (the audit trail has the rest).
    return {"pruned": result["pruned"], "kept": result["kept"]}


@shared_task(name="archive.build_bundle")
def build_bundle_task(node_id: int, user_id: int | None, depth: int | None = None, ctx: dict | None = None,
                      build_id: int | None = None) -> dict:
    """Build the bundle of node `node_id` as user `user_id` (who asked: the bundle and its audit entry name
    them). A bundle the service refuses (wrong node kind, bad depth, closure too large) is an answer, not a
    crash: {"error": ...}, so a worker does not retry what cannot succeed. `ctx`: the requester's
    `common.audit.context.snapshot()`, so the audit entry keeps their request id.

    `build_id`: the BundleBuild the API queued; its row then decides node, requester and depth, and records
    the outcome (the first three arguments are kept so that callers without a job keep working)."""
    if build_id is not None:
        from governance.archive import builds

        return builds.run(build_id, ctx)

    from django.contrib.auth import get_user_model

    from governance.archive import services
    from common.audit import context
    from governance.archive.closure import ClosureTooLarge
    from lineage.models import Node

    node = Node.objects.filter(pk=node_id).first()
    if node is None:
        return {"error": f"no node {node_id}"}
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        with context.restore(ctx):
            if depth is None:
                bundle = services.build_bundle(node, user)
            else:
                bundle = services.build_bundle(node, user, depth=depth)
    except (services.BundleError, ClosureTooLarge) as exc:
        return {"error": str(exc)}
    return {"bundle": bundle.pk, "sha256": bundle.sha256, "nodes": bundle.node_count}
