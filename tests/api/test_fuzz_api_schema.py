"""R3: schemathesis over the project's own OpenAPI schema (as /api/schema/ serves it), every operation,
signed in as an admin and as an engineer: no answer is a 5xx, and every answer matches the schema.

The Django WSGI application is called in-process (schemathesis' WSGI transport), so the requests see the
test database, which holds one real object of every kind (the authorization matrix's `world`) so that list
answers have rows whose shape the schema must describe. Bounded: a few examples per operation, no
shrinking, and schemathesis' coverage phase for the admin only, so the file stays under two minutes; a
failure still prints a curl line that reproduces it.
"""
from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance


pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _header(user) -> dict[str, str]:
    return {"Authorization": "Bearer " + user.auth_token.key}


def _served_schema():
    """The schema /api/schema/ serves (the same generator, called at collection so that schemathesis can
    make one test per operation; its lazy `from_fixture` form does not run under pytest 9)."""
    from drf_spectacular.generators import SchemaGenerator

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = get_wsgi_application()
    return loaded


schema = _served_schema()


@pytest.fixture
def same_connection():
    """Keep the test's database connection across the WSGI calls, as Django's own test client does: the
    handler's request_started/finished signals would otherwise close it (on PostgreSQL, mid-transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_as_admin_no_operation_errors_or_breaks_its_schema(case, world, users, same_connection):
    """The explicit phase includes schemathesis' coverage cases (boundaries, missing and mistyped
    parameters) on top of the random ones: an admin reaches every operation's code, so it gets them all."""
    case.call_and_validate(headers=_header(users["admin"]), checks=CHECKS)


@schema.parametrize()
@settings(max_examples=3, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_as_engineer_no_operation_errors_or_breaks_its_schema(case, world, users, same_connection):
    """Random cases only: most of what an engineer may not do ends at the permission check."""
    case.call_and_validate(headers=_header(users["engineer"]), checks=CHECKS)


@pytest.mark.parametrize("url", [
    "/api/harvests/?started_after=0108-12-29T23:02:33.0-17:05",
    "/api/nodes/?first_seen_after=2025-01-01T00:00:00%2B23:59",
    "/api/audit/entries/?since=2025-01-01T00:00:00-20:00",
    "/api/edges/?as_of=2025-01-01T00:00:00-16:00",
    "/api/ingested-events/?received_at_after=2025-01-01T00:00:00-17:00",
])
def test_found_by_fuzzing_offsets_postgresql_refuses_are_read_as_utc(clients, url):
    assert clients["admin"].get(url).status_code == 200


def test_found_by_fuzzing_a_date_with_no_utc_equivalent_is_a_400(clients):
    response = clients["admin"].get("/api/harvests/?started_after=0001-01-01T00:00:00%2B05:00")
    assert response.status_code == 400 and "started_after" in response.json()["detail"]
