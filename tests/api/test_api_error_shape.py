"""One error shape (common/errors.py): every operation of the OpenAPI schema, called so that it fails
(an id that names nothing, a body that is not what it takes, a caller without the role, no caller at all),
answers with exactly {"error": <string code>, "detail": <message or fields>} and nothing else.

Each call runs in a savepoint that is rolled back, so one failure does not change what the next one sees."""
from __future__ import annotations

import json

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from tests.support.world import concrete

# An exhaustive walk of every operation four ways (~300 cases, a world each): a slow test, like the fuzzers.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
MISSING = "999999999"
# Open to anonymous callers by design (the health probe); they have no 401 to check.
PUBLIC = {("GET", "/api/health/")}


def _schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations():
    return sorted((method.upper(), path) for path, ops in _schema()["paths"].items() for method in ops
                  if method in {"get", "post", "put", "patch", "delete"})


OPERATIONS = _operations()
WITH_ID = [(m, p) for m, p in OPERATIONS if "{" in p]
# The batch endpoint answers a list of anything with a per-event report (OpenLineage's batch contract).
WITH_BODY = [(m, p) for m, p in OPERATIONS if m in {"POST", "PUT", "PATCH"}
             and "requestBody" in _schema()["paths"][p][m.lower()] and p != "/api/v1/lineage/batch"]


def _call(client, method: str, url: str, body=None):
    with transaction.atomic():
        if method == "GET":
            response = client.get(url)
        else:
            response = getattr(client, method.lower())(url, data=json.dumps({} if body is None else body),
                                                       content_type="application/json")
        transaction.set_rollback(True)
    return response


# The Marquez-compatible API (/api/v1/) also answers in Marquez's own error fields, which marquez-python reads.
MARQUEZ_FIELDS = {"code", "message"}


def assert_error_shape(response, what: str) -> None:
    assert response["Content-Type"].startswith("application/json"), (what, response["Content-Type"])
    body = response.json()
    extra = MARQUEZ_FIELDS if " /api/v1/" in what else set()
    assert isinstance(body, dict) and {"error", "detail"} <= set(body) <= {"error", "detail"} | extra, (what, body)
    assert isinstance(body["error"], str) and body["error"], (what, body)
    assert body["detail"] not in (None, "", {}, []), (what, body)


@pytest.mark.parametrize("method, path", [op for op in OPERATIONS if op not in PUBLIC], ids=str)
def test_anonymous_gets_401_in_the_error_shape(clients, world, method, path):
    response = _call(clients["anonymous"], method, concrete(path, world))
    assert response.status_code == 401, (method, path, response.status_code)
    assert_error_shape(response, f"{method} {path} anonymous")


@pytest.mark.parametrize("method, path", [op for op in OPERATIONS if op not in PUBLIC], ids=str)
def test_a_caller_without_a_role_gets_403_in_the_error_shape(clients, world, method, path):
    if path.startswith(("/api/tokens/", "/api/whoami/", "/api/schema")) or path == "/api/docs/":
        pytest.skip("personal tokens, who-am-I and the schema are for everyone signed in, role or not")
    response = _call(clients["outsider"], method, concrete(path, world))
    assert response.status_code == 403, (method, path, response.status_code)
    assert_error_shape(response, f"{method} {path} outsider")


def _allowed_role(clients, method, url):
    """The first role the server lets in (not 401/403) for this call, so that what fails next is the
    input, not the permission."""
    for role in (ADMIN, AUDITOR, ENGINEER, APPROVER):
        if _call(clients[role], method, url, body=["not", "an", "object"]).status_code not in (401, 403):
            return role
    return None


@pytest.mark.parametrize("method, path", WITH_ID, ids=str)
def test_an_id_that_names_nothing_gets_404_in_the_error_shape(clients, world, method, path):
    url = path
    for placeholder in ("{id}", "{seq}", "{name}", "{stage}", "{node_id}"):
        url = url.replace(placeholder, MISSING)
    role = _allowed_role(clients, method, concrete(path, world))
    assert role is not None, f"no role may call {method} {path}"
    response = _call(clients[role], method, url)
    assert response.status_code == 404, (method, url, role, response.status_code, response.content[:200])
    assert_error_shape(response, f"{method} {url} as {role}")


@pytest.mark.parametrize("method, path", WITH_BODY, ids=str)
def test_a_body_of_the_wrong_shape_gets_a_4xx_in_the_error_shape(clients, world, method, path):
    url = concrete(path, world)
    role = _allowed_role(clients, method, url)
    assert role is not None, f"no role may call {method} {path}"
    response = _call(clients[role], method, url, body=["not", "an", "object"])
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), \
        (method, url, role, response.status_code, response.content[:200])
    assert_error_shape(response, f"{method} {url} as {role}")
