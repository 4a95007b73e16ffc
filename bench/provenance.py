"""The model registry page and the provenance card, each beside the plain read it builds on, on the same data
in the same run.

    python -m bench.provenance                             # 10,000 versions, a 1,000-node upstream, 15 rounds
    python -m bench.provenance --versions 2000 --upstream 300 --rounds 5

Database: `DATABASE_URL` when set (that PostgreSQL database is dropped and re-created), otherwise a fresh
embedded SQLite file in a temporary LL_DATA_DIR. Everything goes through the whole Django stack in this
process (django.test.Client: middleware, authentication, the Dash bridge), no network in between.

1. Registry. `--versions` model versions of 200 models (a third produced by a pipeline run, one in ten
   promoted, one in twenty with a pending request and its gate checklist, one in fifty with an evidence
   bundle row) are written through lineage.store.apply and the approvals/archive tables. Timed side by
   side, alternating, `--rounds` times each:
     page  the registry page's first render: the route callback a browser POSTs when /dashboard/models
           opens (its first 25 rows with stage, producer, last decision, open request, gates, evidence and
           the total), signed in with a session;
     list  the plain list API on the same versions, `GET /api/model-versions/?page_size=25` (names only).
   The page's answer is checked (25 rows, the right total, the staging filter's count) and its statement
   count printed. The store is ANALYZEd after generation (planner statistics, as autovacuum keeps them on a
   live PostgreSQL; without them PostgreSQL scans an edge index per row and the page's statement takes 6x
   longer).
2. Card. A model version with `--upstream` nodes upstream (devtools.dashboard.layered_lineage: datasets and
   runs in layers). Timed side by side:
     card     `GET /api/model-versions/{id}/provenance/?depth=50`;
     lineage  `GET /api/nodes/{id}/lineage/?direction=upstream&depth=50&max_nodes=N`, the plain lineage
              query over the same nodes.
   The card's input data is checked against the lineage answer (every dataset upstream, nothing else).

Printed: median and p90 of each, and `ratio: NAME VALUE (goal <= X)` lines (median over median).

What bounds the registry's ratio: the plain list reads 25 rows by primary key; the registry's one statement
sorts every matching version by name (an OR of two kinds, so no index order) and counts them before it
picks 25, then computes fourteen governance columns per row, and Dash builds the table (about 5 ms here).
Sorted newest first (an index order) the same statement costs half as much.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench._db import fresh_database
from bench._server import BENCH_SECRET

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_GOAL = 3.0
CARD_GOAL = 3.0
WHEN = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


def _registry_data(n: int, prefix: str) -> dict:
    from django.contrib.auth import get_user_model

    from governance.approvals.models import (Decision, GateResult, PromotionRequest, Stage, StageAssignment)
    from governance.archive.models import EvidenceBundle
    from lineage import store
    from lineage.kinds import EdgeKind, NodeKind
    from lineage.models import Node
    from lineage.store import EdgeFact, NodeFact, NodeKey

    facts = []
    for m in range(200):
        facts.append(NodeFact(NodeKey("viya", NodeKind.MODEL, f"{prefix}/model/{m}"), name=f"{prefix}-model-{m:03d}",
                              seen_at=WHEN))
    job = NodeKey("kubeflow", NodeKind.JOB, f"{prefix}/pipeline/train")
    facts.append(NodeFact(job, name=f"{prefix}-training", seen_at=WHEN))
    for i in range(n):
        mv = NodeKey("viya", NodeKind.MODEL_VERSION, f"{prefix}/model/{i % 200}/version/{i // 200}")
        facts.append(NodeFact(mv, name=f"{prefix}-model-{i % 200:03d} {i // 200}.0", seen_at=WHEN + dt.timedelta(seconds=i),
                              properties={"viya_kind": "model_version", "version_name": f"{i // 200}.0"}))
        facts.append(EdgeFact(EdgeKind.VERSION_OF, mv, NodeKey("viya", NodeKind.MODEL, f"{prefix}/model/{i % 200}"),
                              "viya", valid_from=WHEN))
        if i % 3 == 0:
            run = NodeKey("kubeflow", NodeKind.RUN, f"{prefix}/run/{i}")
            facts += [NodeFact(run, name=f"run-{i}", seen_at=WHEN),
                      EdgeFact(EdgeKind.INSTANCE_OF, job, run, "kubeflow", valid_from=WHEN),
                      EdgeFact(EdgeKind.PRODUCED, run, mv, "kubeflow", valid_from=WHEN)]
    for start in range(0, len(facts), 5000):
        store.apply(facts[start:start + 5000])
    users = get_user_model()
    engineer, _ = users.objects.get_or_create(username=f"{prefix}-eng")
    approver, _ = users.objects.get_or_create(username=f"{prefix}-appr")
    staging = Stage.objects.get(name="staging")
    nodes = list(Node.objects.filter(kind="model_version", source_id__startswith=f"{prefix}/").order_by("id"))
    requests, assignments, decisions, gates, bundles = [], [], [], [], []
    for i, node in enumerate(nodes):
        if i % 10 == 0:
            requests.append(PromotionRequest(node=node, target_stage=staging, justification="bench", requester=engineer,
                                             state="executed", fingerprint="x", submitted_at=WHEN, decided_at=WHEN,
                                             executed_at=WHEN))
        elif i % 20 == 5:
            requests.append(PromotionRequest(node=node, target_stage=staging, justification="bench", requester=engineer,
                                             state="pending", fingerprint="x", submitted_at=WHEN))
        if i % 50 == 7:
            bundles.append(EvidenceBundle(sha256=f"{prefix}-{i:058d}"[-64:], storage_key="bench", size=1, format_version=1,
                                          node=node, subject_source=node.source, subject_kind=node.kind,
                                          subject_source_id=node.source_id, subject_name=node.name, depth=1))
    PromotionRequest.objects.bulk_create(requests, batch_size=1000)
    for req in PromotionRequest.objects.filter(node__source_id__startswith=f"{prefix}/"):
        if req.state == "executed":
            decisions.append(Decision(request=req, actor=approver, decision="approve", comment="ok", fingerprint="x"))
            assignments.append(StageAssignment(node_id=req.node_id, stage=staging, request=req, requested_by=engineer.username,
                                               approved_by=[approver.username]))
        for gate in ("producing_run", "no_failed_run"):
            gates.append(GateResult(request=req, evaluation=1, gate=gate, passed=gate == "no_failed_run" or req.pk % 2 == 0,
                                    reason="bench"))
    Decision.objects.bulk_create(decisions, batch_size=1000)
    StageAssignment.objects.bulk_create(assignments, batch_size=1000)
    GateResult.objects.bulk_create(gates, batch_size=1000)
    EvidenceBundle.objects.bulk_create(bundles, batch_size=1000)
    return {"staged": nodes[0].pk, "count": Node.objects.filter(kind="model_version").count()}


def _time(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def _side_by_side(a, b, rounds: int) -> tuple[list[float], list[float]]:
    """Alternate a and b so that both see the same machine load; one warm-up call each first."""
    a(), b()
    ta, tb = [], []
    for _ in range(rounds):
        ta += _time(a, 1)
        tb += _time(b, 1)
    return ta, tb


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.9 * len(values))) - 1)]


def _report(name: str, values: list[float]) -> None:
    print(f"{name:<8} median {statistics.median(values) * 1000:8.1f} ms   p90 {_p90(values) * 1000:8.1f} ms"
          f"   ({len(values)} runs)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.provenance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10_000, help="model versions in the registry")
    parser.add_argument("--upstream", type=int, default=1_000, help="nodes upstream of the card's version")
    parser.add_argument("--rounds", type=int, default=15, help="timed calls of each side")
    args = parser.parse_args(argv)

    data_dir = tempfile.mkdtemp(prefix="ll-provenance-bench-")
    os.environ["LL_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    # Production-shaped: DEBUG off (no per-query logging in the timed calls).
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET)
    os.environ["DEBUG"] = "0"
    if os.environ.get("DATABASE_URL"):
        fresh_database(os.environ["DATABASE_URL"])  # counts and filters are checked against a known store
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from devtools.dashboard import DashCaller, find_component, layered_lineage
    from common.roles import AUDITOR
    from tests.conftest import make_user

    call_command("migrate", verbosity=0, interactive=False)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    prefix = f"pb{int(time.time() * 1000) % 10**8}"
    started = time.perf_counter()
    made = _registry_data(args.versions, prefix)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them on a live database
    print(f"database: {connection.vendor}; {made['count']} model versions in the store "
          f"(generated in {time.perf_counter() - started:.1f} s)")
    user = make_user(f"{prefix}-auditor", AUDITOR)
    session = Client()
    session.force_login(user)
    dash = DashCaller(session)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {user.auth_token.key}")

    def page():
        tree = dash.call_json("page.children", {"url.pathname": "/dashboard/models", "url.search": ""})
        return tree

    def plain_list():
        response = api.get("/api/model-versions/", {"page_size": 25})
        assert response.status_code == 200
        return response

    tree = page()
    summary = find_component(tree, "reg-summary")["props"]["children"]
    assert summary == f"1–25 of {made['count']} model versions", summary
    assert json.dumps(tree).count('"reg-link-') == 25
    staged = DashCaller(session).call_json("reg-results.children", {
        "reg-q.value": "", "reg-stage.value": "staging", "reg-source.value": "", "reg-flags.value": [],
        "reg-sort.value": "name", "reg-prev.n_clicks": 0, "reg-next.n_clicks": 0, "reg-offset.data": 0},
        changed="reg-stage.value")
    assert f"of {args.versions // 10} model versions" in staged["reg-summary"]["children"], staged["reg-summary"]
    assert len(plain_list().json()["results"]) == 25
    from governance.provenance.views import registry_page

    with CaptureQueriesContext(connection) as queries:
        registry_page({}, offset=0, limit=25)
    print(f"registry: one page = {len(queries.captured_queries)} SQL statement(s); page checked "
          f"({summary}; staging filter {staged['reg-summary']['children']})")
    page_times, list_times = _side_by_side(page, plain_list, args.rounds)
    _report("page", page_times)
    _report("list", list_times)
    registry_ratio = statistics.median(page_times) / statistics.median(list_times)

    started = time.perf_counter()
    mv = layered_lineage(args.upstream + 1, width=25, prefix=f"{prefix}-card")
    print(f"card: a model version with {args.upstream} upstream nodes (generated in {time.perf_counter() - started:.1f} s)")

    def card():
        response = api.get(f"/api/model-versions/{mv}/provenance/", {"depth": 50})
        assert response.status_code == 200, response.content[:300]
        return response

    def lineage():
        response = api.get(f"/api/nodes/{mv}/lineage/", {"direction": "upstream", "depth": 50,
                                                         "max_nodes": args.upstream + 1})
        assert response.status_code == 200
        return response

    body, graph = card().json(), json.loads(lineage().content)
    assert len(graph["nodes"]) == args.upstream + 1 and not graph["truncated"], (len(graph["nodes"]), graph["truncated"])
    datasets = {n["id"] for n in graph["nodes"] if n["kind"] in ("dataset", "dataset_version", "artifact")}
    assert {d["id"] for d in body["input_data"]} == datasets and not body["input_truncated"]
    producers = {e["src"] for e in graph["edges"] if e["dst"] == mv and e["kind"] == "produced"}
    assert {r["id"] for r in body["runs"] if r["role"] == "producer"} == producers
    print(f"card checked: {len(body['input_data'])} input datasets (= the lineage answer's), "
          f"{len(body['runs'])} producing runs")
    reset_queries()
    card_times, lineage_times = _side_by_side(card, lineage, args.rounds)
    _report("card", card_times)
    _report("lineage", lineage_times)
    card_ratio = statistics.median(card_times) / statistics.median(lineage_times)
    print(f"ratio: registry_first_render_vs_list_api {registry_ratio:.2f} (goal <= {REGISTRY_GOAL})")
    print(f"ratio: provenance_card_vs_lineage_query {card_ratio:.2f} (goal <= {CARD_GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
