"""Overview: how much is governed, where it stands, whether the harvests are healthy, and how much
lineage has been arriving. Every figure is a query on the live tables, computed per page load."""
from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
from dash import dcc, html
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDay
from django.utils import timezone

from connectors.models import ConnectorConfig, Harvest, HarvestStatus
from dashboard import components as ui
from dashboard import governance_data, urlpaths
from lineage.kinds import NodeKind
from lineage.models import Node, RawRecord

PAGE = "overview"
TITLE = "Overview"
CHART_DAYS = 30


def harvest_health() -> list[dict]:
    """One row per harvested source: configured connectors first, then ad-hoc sources (CLI harvests)."""
    rows = []
    stats = (
        Harvest.objects.values("source_key", "kind", "connector__name")
        .annotate(
            runs=Count("pk"),
            last_ok=Max("finished_at", filter=Q(status=HarvestStatus.SUCCEEDED)),
            last_fail=Max("finished_at", filter=Q(status=HarvestStatus.FAILED)),
        )
        .order_by("connector__name", "source_key")
    )
    seen_connectors = set()
    for row in stats:
        seen_connectors.add(row["connector__name"])
        last_error = ""
        if row["last_fail"] and (not row["last_ok"] or row["last_fail"] > row["last_ok"]):
            failed = Harvest.objects.filter(source_key=row["source_key"], status=HarvestStatus.FAILED).first()
            last_error = failed.error if failed else ""
        rows.append({**row, "last_error": last_error})
    for config in ConnectorConfig.objects.exclude(name__in=[n for n in seen_connectors if n]):
        rows.append({"source_key": "—", "kind": config.kind, "connector__name": config.name, "runs": 0,
                     "last_ok": None, "last_fail": None, "last_error": "never harvested"})
    return rows


def events_figure(days: int = CHART_DAYS) -> go.Figure:
    since = timezone.now() - dt.timedelta(days=days)
    per_day = (
        RawRecord.objects.filter(received_at__gte=since)
        .annotate(day=TruncDay("received_at"))
        .values("day", "source")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    series: dict[str, dict] = {}
    for row in per_day:
        series.setdefault(row["source"], {})[row["day"].date().isoformat()] = row["n"]
    fig = go.Figure()
    for source, points in sorted(series.items()):
        fig.add_bar(name=source, x=list(points), y=list(points.values()))
    fig.update_layout(
        barmode="stack", height=300, margin=dict(l=40, r=10, t=30, b=40),
        title=f"Source records ingested per day (last {days} days)",
        xaxis_title="day (UTC)", yaxis_title="records", legend_title="source",
    )
    fig.update_xaxes(tickformat="%Y-%m-%d", dtick=86_400_000)
    return fig


def layout(user, query):
    models = Node.objects.filter(kind=NodeKind.MODEL).count()
    versions = Node.objects.filter(kind=NodeKind.MODEL_VERSION).count()
    by_stage = governance_data.stage_counts()
    pending = governance_data.pending_count()
    stats = html.Div([
        # Each tile links to the page listing what it counts.
        dcc.Link(ui.stat("models", models, id="stat-models"), href=urlpaths.models()),
        dcc.Link(ui.stat("model versions", versions, id="stat-versions"), href=urlpaths.models()),
        dcc.Link(ui.stat("pending approvals", "—" if pending is None else pending, id="stat-pending"),
                 href=urlpaths.models(pending="true")),
        dcc.Link(ui.stat("lineage nodes", Node.objects.count(), id="stat-nodes"), href=urlpaths.lineage()),
    ], className="stats")
    stage_rows = [[dcc.Link(stage, href=urlpaths.models(stage=stage), id=f"stage-link-{stage}"), n]
                  for stage, n in by_stage.items()]
    harvest_rows = [
        [r["connector__name"] or "(ad hoc)", r["kind"], r["source_key"], r["runs"], ui.when(r["last_ok"]),
         ui.when(r["last_fail"]), html.Span(r["last_error"], className="error-text") if r["last_error"] else ""]
        for r in harvest_health()
    ]
    return ui.page(
        TITLE,
        stats,
        html.Div([
            ui.card("Model versions by stage", ui.table(["stage", "versions"], stage_rows, id="stage-table",
                                                        empty="No model versions yet.")),
            ui.card("Harvests per connector", ui.table(
                ["connector", "kind", "source", "runs", "last success", "last failure", "last error"],
                harvest_rows, id="harvest-health", empty="No connector configured or harvested yet.")),
        ], className="grid-2"),
        ui.card("Ingested events over time", dcc.Graph(id="events-chart", figure=events_figure(),
                                                       config={"displaylogo": False})),
    )


def register(app):
    pass
