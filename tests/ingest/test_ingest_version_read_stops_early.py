"""The ingest's read of an input dataset's newest versions reads only the few it keeps, however long the
dataset's history: the index it walks is ordered as the read is (first_seen, id; lineage migration 0008), so
its LIMIT stops the scan. Before, every version up to the event's time was read and sorted, and each event
cost more as a dataset's history grew. Checked on the plan's row counts, not on times."""
import datetime as dt
import json

import pytest
from django.db import connection

from lineage.ingest.mapping import VERSION_WINDOW, Mapper
from lineage.kinds import NodeKind, Source
from lineage.models import Node

pytestmark = pytest.mark.postgres_only
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _history(versions: int) -> None:
    rows = []
    for dataset in range(40):
        for i in range(versions if dataset == 0 else 5):
            when = T0 + dt.timedelta(minutes=i // 2)  # two versions share each time: id breaks the tie
            rows.append(Node(kind=NodeKind.DATASET_VERSION, source=Source.OPENLINEAGE, namespace="db",
                             name=f"t{dataset}", source_id=f"t{dataset}@{i}", first_seen=when, last_seen=when))
    Node.objects.bulk_create(rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE lineage_node")


def _rows_scanned(plan: dict) -> int:
    """The most rows any scan of lineage_node in the plan produced."""
    most = 0
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Relation Name") == "lineage_node":
            most = max(most, node["Actual Rows"] * node.get("Actual Loops", 1))
        stack.extend(node.get("Plans", ()))
    return most


@pytest.mark.parametrize("plan_mode", ["force_custom_plan", "force_generic_plan"])
def test_newest_versions_read_stops_after_the_window(db, plan_mode):
    _history(400)
    sql, params = Mapper._versions_sql(None, [("db", "t0")], T0 + dt.timedelta(days=1))
    with connection.cursor() as cur:
        cur.execute("SET plan_cache_mode = " + plan_mode)
        marked = sql
        for n in range(1, len(params) + 1):
            marked = marked.replace("%s", f"${n}", 1)
        cur.execute("PREPARE versions_probe AS " + marked)
        try:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE versions_probe("
                        + ", ".join(["%s"] * len(params)) + ")", params)
            plan = cur.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
        finally:
            cur.execute("DEALLOCATE versions_probe")
            cur.execute("RESET plan_cache_mode")
    assert _rows_scanned(plan[0]["Plan"]) <= VERSION_WINDOW, json.dumps(plan, indent=1)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        got = [row[1] for row in cur.fetchall()]
    # The newest eight, newest first, ties broken by id (higher id first).
    assert got == [f"t0@{i}" for i in range(399, 399 - VERSION_WINDOW, -1)]
