"""The entry list filters by actor, action, object, time range and request id, newest first."""
import datetime as dt

import pytest

from common.audit import context
from governance.audit import recorder
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The `users` fixture hashes a password per user; the default hasher costs seconds on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def trail(users):
    with context.acting_as(context.for_user(users["engineer"], request_id="req-a")):
        recorder.record("promotion.request", "model_version", "mv-1", after={"stage": "prod"}, reason="ready")
        recorder.record("promotion.request", "model_version", "mv-2")
    with context.acting_as(context.for_user(users["approver"], request_id="req-b")):
        recorder.record("promotion.approve", "model_version", "mv-1", reason="looks good")
    with context.acting_as(context.AuditContext(service="harvester:kubeflow", request_id="req-c")):
        recorder.record("harvest.run", "connector", "7", after={"runs": 3})


def seqs(client, query=""):
    response = client.get("/api/audit/entries/?" + query)
    assert response.status_code == 200, response.content
    return [row["object_id"] + ":" + row["action"] for row in response.json()["results"]]


def test_filters(trail, clients):
    c = clients["auditor"]
    assert seqs(c, "actor=engineer") == ["mv-2:promotion.request", "mv-1:promotion.request"]
    assert seqs(c, "actor=harvester:kubeflow") == ["7:harvest.run"]
    assert seqs(c, "action=promotion.approve") == ["mv-1:promotion.approve"]
    assert seqs(c, "action_prefix=promotion.") == [
        "mv-1:promotion.approve", "mv-2:promotion.request", "mv-1:promotion.request",
    ]
    assert seqs(c, "object_type=model_version&object_id=mv-1") == ["mv-1:promotion.approve", "mv-1:promotion.request"]
    assert seqs(c, "request_id=req-c") == ["7:harvest.run"]
    engineer_id = AuditEntry.objects.filter(actor_username="engineer").first().actor_id
    assert len(seqs(c, f"actor_id={engineer_id}")) == 2


def test_time_range(trail, clients):
    approve = AuditEntry.objects.get(action="promotion.approve")
    later = approve.at + dt.timedelta(seconds=1)
    AuditEntry.objects.filter(pk=approve.pk)  # untouched: the trail is append-only
    since = approve.at.isoformat().replace("+00:00", "Z")
    rows = seqs(clients["admin"], f"since={since}")
    assert rows[-1] == "mv-1:promotion.approve" and "mv-2:promotion.request" not in rows
    assert seqs(clients["admin"], f"until={since}")[0] == "mv-2:promotion.request"
    assert seqs(clients["admin"], "since=" + later.isoformat().replace("+00:00", "Z")) == []


def test_bad_filter_values_are_a_400(trail, clients):
    for query in ("since=yesterday", "actor_id=abc", "seq_min=x"):
        response = clients["auditor"].get("/api/audit/entries/?" + query)
        assert response.status_code == 400, query
        assert response.json()["error"] == "invalid"


def test_pagination_walks_every_entry_once(trail, clients):
    seen, url = [], "/api/audit/entries/?page_size=2"
    while url:
        body = clients["auditor"].get(url).json()
        seen += [row["seq"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(AuditEntry.objects.values_list("seq", flat=True), reverse=True)
