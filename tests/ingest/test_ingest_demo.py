"""The demo platform's events are valid 2-0-2, deterministic per seed, and load through the real ingest
path into a graph where a model can be traced back to the production table it was trained from."""
from __future__ import annotations

import pytest

from governance.audit.models import AuditEntry
from lineage import graph
from devtools.ingest_demo import generate_events, load_demo_events
from lineage.ingest.events import kind_from_schema_url
from lineage.ingest.models import IngestedEvent
from lineage.ingest.strict import judge
from lineage.models import Node
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_events_are_deterministic_and_strictly_valid():
    events = generate_events(seed=3, n_pipelines=8)
    assert events == generate_events(seed=3, n_pipelines=8)
    assert events != generate_events(seed=4, n_pipelines=8)
    kinds = {kind_from_schema_url(e["schemaURL"]) for e in events}
    assert kinds == {"RunEvent", "JobEvent", "DatasetEvent"}
    assert [judge(e, kind_from_schema_url(e["schemaURL"])) for e in events] == [[]] * len(events)
    producers = {e["producer"] for e in events}
    assert any("airflow" in p for p in producers) and any("spark" in p for p in producers) and any("dbt" in p for p in producers)


@pytest.mark.django_db
def test_loading_the_demo_builds_model_lineage_back_to_the_source():
    user = make_user("demo-loader", "engineer")
    events = generate_events(seed=0, n_pipelines=12)
    totals = load_demo_events(user, seed=0, n_pipelines=12, batch_size=50)
    assert totals == {"received": len(events), "successful": len(events), "failed": 0, "duplicates": 0}
    assert IngestedEvent.objects.count() == len(events)
    assert IngestedEvent.objects.filter(posted_by=user, strict_ok=True).count() == len(events)
    assert AuditEntry.objects.filter(action="ingest.batch", actor_id=user.pk).count() == -(-len(events) // 50)
    model = Node.objects.get(kind="dataset", namespace="mlflow://registry", name="models/orders_churn")
    upstream = graph.lineage([model.pk], direction="upstream", depth=30, max_nodes=5000)
    names = {(n.kind, n.name) for n in upstream.nodes}
    assert ("dataset", "public.orders") in names
    assert ("job", "orders_churn_training") in names  # the DAG, through the parent_of edges
    assert ("dataset_version", "features.orders_daily") in names
    # loading again is a no-op
    again = load_demo_events(user, seed=0, n_pipelines=12, batch_size=50)
    assert again["duplicates"] == len(events) and IngestedEvent.objects.count() == len(events)
