"""Model version page: where this version came from and what governance decided about it.

Provenance is read from the lineage store (upstream: runs and the data they consumed; downstream:
the model it versions and its deployments). Approvals, stage history, gates and evidence bundles come
from the approvals and archive apps through dashboard.governance_data."""
from __future__ import annotations

from dash import dcc, html

from dashboard import components as ui, governance_data, urlpaths
from lineage import graph
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node

PAGE = "model"
TITLE = "Model version"
PROVENANCE_DEPTH = 8
DATA_KINDS = {NodeKind.DATASET, NodeKind.DATASET_VERSION, NodeKind.ARTIFACT}
RUN_KINDS = {NodeKind.RUN, NodeKind.JOB}


def provenance(node: Node) -> dict[str, list[Node]]:
    up = graph.lineage([node.pk], direction="upstream", depth=PROVENANCE_DEPTH, max_nodes=500)
    down = graph.lineage([node.pk], direction="downstream", depth=2, max_nodes=200)
    others = [n for n in up.nodes if n.pk != node.pk]
    # Evaluation metrics are usually a sibling output of the run that produced the version, not upstream.
    producers = list(Edge.objects.filter(dst=node, kind=EdgeKind.PRODUCED, valid_to__isnull=True)
                     .values_list("src_id", flat=True))
    siblings = graph.lineage(producers, direction="downstream", depth=1, node_kinds=[NodeKind.METRICS],
                             max_nodes=50).nodes if producers else []
    metrics = [n for n in siblings if n.kind == NodeKind.METRICS]
    metrics += [n for n in others if n.kind == NodeKind.METRICS and n not in metrics]
    return {
        "data": [n for n in others if n.kind in DATA_KINDS],
        "runs": [n for n in others if n.kind in RUN_KINDS],
        "metrics": metrics,
        "models": [n for n in down.nodes if n.kind == NodeKind.MODEL],
        "deployments": [n for n in down.nodes if n.kind == NodeKind.DEPLOYMENT],
        "copies": [n for n in down.nodes + up.nodes if n.pk != node.pk and n.kind == NodeKind.MODEL_VERSION],
        "truncated": up.truncated or down.truncated,
    }


def metrics_of(node: Node, metric_nodes: list[Node]) -> list[list]:
    """Metrics the version itself carries, then those of metrics artefacts upstream of it."""
    rows = []
    own = (node.properties or {}).get("metrics")
    if isinstance(own, dict):
        rows += [[k, v, "model version"] for k, v in sorted(own.items())]
    for m in metric_nodes:
        values = (m.properties or {}).get("metrics", m.properties or {})
        if isinstance(values, dict):
            rows += [[k, v, f"{m.display_name or m.name} (id {m.pk})"] for k, v in sorted(values.items())
                     if isinstance(v, (int, float, str))]
    return rows


def _node_list(nodes: list[Node], empty: str):
    if not nodes:
        return html.P(empty, className="muted")
    return html.Ul([html.Li(dcc.Link(f"{n.kind} · {n.display_name or n.name} ({n.source})", href=urlpaths.lineage(n.pk)))
                    for n in nodes[:50]] + ([html.Li(f"… and {len(nodes) - 50} more")] if len(nodes) > 50 else []))


def layout(user, query, node_id):
    node = Node.objects.filter(pk=int(node_id)).first()
    if node is None or node.kind != NodeKind.MODEL_VERSION:
        return ui.page(TITLE, ui.notice(f"There is no model version with id {node_id}.", "warn", id="mv-missing"))
    chain = provenance(node)
    gov = governance_data.model_version_summary(node, user)
    columns = html.Div([
        ui.card("Data", _node_list(chain["data"], "No upstream data known.")),
        ui.card("Runs", _node_list(chain["runs"], "No producing run known.")),
        ui.card("Model", html.Div([html.Strong(node.display_name or node.name), html.Br(),
                                   f"{node.source} · id {node.pk}", _node_list(chain["models"], "")]),
                className="highlight"),
        ui.card("Approvals", governance_data.approvals_list(gov)),
        ui.card("Deployments", _node_list(chain["deployments"], "Not deployed.")),
    ], className="chain", id="mv-chain")
    return ui.page(
        f"{TITLE}: {node.display_name or node.name}",
        html.P(["Current stage: ", html.Strong(gov.get("stage") or "none", id="mv-stage"), " · ",
                dcc.Link("Open in lineage explorer", href=urlpaths.lineage(node.pk, direction="upstream", depth=6))]),
        ui.notice("Provenance is longer than shown; open the lineage explorer for all of it.", "warn")
        if chain["truncated"] else html.Div(),
        columns,
        html.Div([
            ui.card("Metrics", ui.table(["metric", "value", "from"], metrics_of(node, chain["metrics"]), id="mv-metrics",
                                        empty="No metrics recorded.")),
            ui.card("Gate checklist", governance_data.gate_checklist(gov.get("gates"))),
        ], className="grid-2"),
        ui.card("Stage history", governance_data.stage_history_table(gov.get("history"))),
        ui.card("Evidence bundles", governance_data.bundle_table(gov.get("bundles"), id="mv-bundles"),
                html.P("Downloads go through the archive API, which checks your role and records the export.",
                       className="muted")),
    )


def register(app):
    """Read-only page: nothing to register (bundle downloads are links to the audited archive API)."""
