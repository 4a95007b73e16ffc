"""What the dashboard reads from the approvals and archive apps, through their models and services.

Kept in one module so that the pages do not each know how those apps are laid out. Rules (who may
decide, which gates block, which bundles a user may see) are always asked of those apps, never
re-implemented here.
"""
from __future__ import annotations


from dash import html
from django.db.models import Count

from dashboard import components as ui
from lineage.kinds import NodeKind
from lineage.models import Node


class Unavailable(Exception):
    """The approvals or archive service cannot answer (refused, or the file is gone): the message says why."""


# ---------------------------------------------------------------------------------------------- approvals
def stage_counts() -> dict[str, int]:
    """Model versions per current stage; versions never promoted count as "none"."""
    from governance.approvals.models import Stage, StageAssignment

    current = dict(
        StageAssignment.objects.filter(superseded_at__isnull=True).values_list("stage__name")
        .annotate(n=Count("pk")).values_list("stage__name", "n")
    )
    counts = {stage: current.get(stage, 0) for stage in Stage.objects.values_list("name", flat=True)}
    counts["none"] = Node.objects.filter(kind=NodeKind.MODEL_VERSION).count() - sum(current.values())
    return counts


def pending_count() -> int:
    from governance.approvals.models import PromotionRequest, RequestState

    return PromotionRequest.objects.filter(state=RequestState.PENDING).count()


def waiting_for(user) -> list:
    """Pending requests `user` may decide now, by the approvals service's own rule (can_decide)."""
    from governance.approvals import services
    from governance.approvals.models import PromotionRequest, RequestState

    pending = PromotionRequest.objects.filter(state=RequestState.PENDING).select_related(
        "node", "target_stage", "requester").order_by("submitted_at", "pk")
    return [req for req in pending if services.can_decide(user, req) is None]


def gate_checklist(gates, id="gate-checklist"):
    if gates is None:
        return html.P("No gates evaluated: no promotion has been requested.", className="muted", id=id)
    results, overridden = gates
    if not results:
        return html.P("Gates have not been evaluated yet.", className="muted", id=id)
    rows = []
    for g in results:
        if g.passed:
            mark = html.Span("✔ pass", className="gate-pass")
        elif g.gate in overridden:
            mark = html.Span("✘ fail (overridden by an admin)", className="gate-pass")
        else:
            mark = html.Span("✘ fail", className="gate-fail")
        rows.append([g.gate.replace("_", " "), mark, g.reason])
    return ui.table(["gate", "result", "reason"], rows, id=id)


def stage_history_table(history):
    if not history:
        return html.P("Never promoted.", className="muted", id="mv-history")
    rows = [[ui.when(a.assigned_at), a.from_stage.name if a.from_stage else "—", a.stage.name, a.requested_by,
             ", ".join(a.approved_by) or "—", f"#{a.request_id}",
             "current" if a.superseded_at is None else f"until {ui.when(a.superseded_at)}"]
            for a in history]
    return ui.table(["when", "from", "to", "requested by", "approved by", "request", "status"], rows, id="mv-history")


# ---------------------------------------------------------------------------------------------- archive
def visible_bundles(user, node=None) -> list:
    """Bundles `user` may see, by the archive's rules, which the API's queryset uses too (auditors and
    admins see all, others the bundles they made)."""
    from governance.archive import rules

    qs = rules.visible_to(user)
    if node is not None:
        qs = qs.filter(subject_source=node.source, subject_kind=node.kind, subject_source_id=node.source_id)
    return list(qs.order_by("-created_at", "-pk")[:200])


def visible_builds(user) -> list:
    """Bundle builds handed to the task workers that `user` may see, by the bundle-builds API's own rule
    (auditors and admins see all, others the builds they requested), newest first."""
    from governance.archive import rules

    return list(rules.builds_visible_to(user).select_related("bundle").order_by("-created_at", "-pk")[:200])


def bundle_download_url(bundle) -> str:
    # The API download is audited and permission-checked there; the dashboard links to it.
    return f"/api/archive/bundles/{bundle.pk}/download/"


def bundle_table(bundles, id="bundle-table"):
    if not bundles:
        return html.P("No evidence bundle archived.", className="muted", id=id)
    rows = [[b.pk, f"{b.subject_kind} {b.subject_name or b.subject_source_id}", html.Code(b.sha256[:16] + "…", title=b.sha256),
             f"{b.size:,} B", b.node_count, b.created_by_username or "—", ui.when(b.created_at),
             html.A("download", href=bundle_download_url(b), id=f"bundle-download-{b.pk}")]
            for b in bundles]
    return ui.table(["#", "subject", "sha256", "size", "nodes", "by", "created", ""], rows, id=id)


def verify_visible_bundle(user, bundle_id: int) -> dict:
    from governance.archive import services

    bundle = next((b for b in visible_bundles(user) if b.pk == bundle_id), None)
    if bundle is None:
        raise Unavailable(f"There is no bundle #{bundle_id} you may see.")
    return services.verify_bundle(bundle)
