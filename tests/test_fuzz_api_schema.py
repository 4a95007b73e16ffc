"""R3: schemathesis over the project's own OpenAPI schema (as /api/schema/ serves it), every operation,
signed in as an admin and as an engineer: no answer is a 5xx, and every answer matches the schema.

The Django WSGI application is called in-process (schemathesis' WSGI transport), so the requests see the
test database, which holds one real object of every kind (the authorization matrix's `world`) so that list
answers have rows whose shape the schema must describe. Bounded: a few examples per operation and no
shrinking, so the file stays well under two minutes; a failure still prints the request that caused it.
"""
from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.test_authz_matrix import world  # noqa: F401  (fixture: one real object behind every detail URL)

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(params=["admin", "engineer"])
def auth_header(request, users) -> dict[str, str]:
    return {"Authorization": "Bearer " + users[request.param].auth_token.key}


def _served_schema():
    """The schema /api/schema/ serves (the same generator, called at collection so that schemathesis can
    make one test per operation; its lazy `from_fixture` form does not run under pytest 9)."""
    from drf_spectacular.generators import SchemaGenerator

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = get_wsgi_application()
    return loaded


schema = _served_schema()


@schema.parametrize()
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_operation_never_errors_and_matches_its_schema(case, world, auth_header):  # noqa: F811
    case.call_and_validate(headers=auth_header, checks=CHECKS)
