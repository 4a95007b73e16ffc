"""Who may do what on the OpenLineage endpoints: engineers and admins ingest, every role reads, anonymous
callers get 401 and role-less users 403. Checked on the server for each endpoint and method."""
from __future__ import annotations

import json

import pytest

from lineage.ingest.models import IngestedEvent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The role fixtures hash six passwords per test; the default hasher makes that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2024-01-01T00:00:00Z",
    "run": {"runId": "8d4e3a8e-2f0b-4e0c-9d7f-0c4c2b1f8d11"},
    "job": {"namespace": "ns", "name": "perm"},
    "producer": "https://example.com/p",
}

POST_EXPECTED = {"anonymous": 401, "outsider": 403, "engineer": 201, "admin": 201, "auditor": 403, "approver": 403}
BATCH_EXPECTED = {**POST_EXPECTED, "engineer": 200, "admin": 200}
READ_EXPECTED = {"anonymous": 401, "outsider": 403, "engineer": 404, "admin": 404, "auditor": 404, "approver": 404}


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(POST_EXPECTED))
def test_post_one_event(clients, who):
    response = clients[who].post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json")
    assert response.status_code == POST_EXPECTED[who], response.content
    assert IngestedEvent.objects.count() == (1 if POST_EXPECTED[who] == 201 else 0)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(BATCH_EXPECTED))
def test_post_batch(clients, who):
    response = clients[who].post("/api/v1/lineage/batch", data=json.dumps([EVENT]), content_type="application/json")
    assert response.status_code == BATCH_EXPECTED[who], response.content
    assert IngestedEvent.objects.count() == (1 if BATCH_EXPECTED[who] == 200 else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(READ_EXPECTED))
def test_marquez_read(clients, who):
    """Any role may read; the node does not exist, so readers get a 404 JSON answer — never a 401/403."""
    response = clients[who].get("/api/v1/lineage", {"nodeId": "job:nowhere:nothing", "depth": 2})
    assert response.status_code == READ_EXPECTED[who], response.content
    assert "error" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["engineer", "auditor", "approver", "admin"])
def test_marquez_read_of_ingested_lineage(clients, who):
    event = dict(EVENT, inputs=[{"namespace": "db", "name": "src"}], outputs=[{"namespace": "db", "name": "dst"}])
    assert clients["engineer"].post("/api/v1/lineage", data=json.dumps(event), content_type="application/json").status_code == 201
    response = clients[who].get("/api/v1/lineage", {"nodeId": "job:ns:perm", "depth": 5})
    assert response.status_code == 200, response.content
    ids = {node["id"] for node in response.json()["graph"]}
    assert {"job:ns:perm", "dataset:db:src", "dataset:db:dst"} <= ids


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"nodeId": "table:x:y"}, {"nodeId": "job:ns:perm", "depth": "deep"},
                                    {"nodeId": "job:ns:perm", "depth": "-1"}])
def test_marquez_read_bad_parameters_are_400(clients, params):
    response = clients["engineer"].get("/api/v1/lineage", params)
    assert response.status_code == 400, response.content
    assert response.json()["error"] in ("invalid_node_id", "invalid_depth")


@pytest.mark.django_db
def test_a_wrong_bearer_token_is_401_and_stores_nothing(users):
    from rest_framework.test import APIClient

    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad.post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json").status_code == 401
    assert IngestedEvent.objects.count() == 0
