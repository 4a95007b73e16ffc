"""R4: who may call which endpoint, as one table: every API operation of the OpenAPI schema (and every
page outside it) × role (anonymous, outsider with no role, engineer, auditor, approver, admin).

The table's keys are compared with what the project serves (drf-spectacular's schema for /api/, a walk of
the URL resolver for the rest), so an endpoint added without deciding who may call it fails here first.

Allowed means the server let the caller in: a GET answers 200 (the objects are real, so detail URLs resolve),
a write answers anything but 401/403/5xx (an empty body may well be a 400: that is validation, after the
permission check). Denied means 401 for anonymous and 403 for everyone else. Each request runs in a
savepoint that is rolled back, so one role's DELETE does not hide the object from the next role.
"""
from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from tests.support.world import NODE_ROUTES as _NODE_ROUTES
from tests.support.world import concrete

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", ENGINEER, AUDITOR, APPROVER, ADMIN)
PUBLIC = frozenset(ROLES)
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
ANY_ROLE = frozenset({ENGINEER, AUDITOR, APPROVER, ADMIN})
ADMIN_ONLY = frozenset({ADMIN})
AUDITORS = frozenset({AUDITOR, ADMIN})
ENGINEERS = frozenset({ENGINEER, ADMIN})
APPROVERS = frozenset({APPROVER, ADMIN})
NOBODY = frozenset()

# Engineers and approvers read only the bundles they built: the auditor's bundle is a 404 to them, which
# (like a 403) leaves them out, without telling them the bundle exists.
HIDDEN_404 = {path: frozenset({ENGINEER, APPROVER}) for path in (
    "/api/archive/bundles/{id}/", "/api/archive/bundles/{id}/download/", "/api/archive/bundles/{id}/verify/",
    "/api/archive/bundle-builds/{id}/")}
# Personal API tokens: everyone signed in manages their own; the world's token is the admin's, so any other
# caller gets a 404 for it.
HIDDEN_404.update({("/api/tokens/{id}/"): frozenset({"outsider", ENGINEER, AUDITOR, APPROVER})})


# (method, path as the schema spells it) -> roles that are let in.
API_MATRIX: dict[tuple[str, str], frozenset] = {
    ("GET", "/api/health/"): PUBLIC,
    # Archive: auditors build evidence, everyone with a role reads (engineers and approvers their own).
    ("GET", "/api/archive/bundles/"): ANY_ROLE,
    ("POST", "/api/archive/bundles/"): AUDITORS,
    ("GET", "/api/archive/bundles/{id}/"): AUDITORS,
    ("GET", "/api/archive/bundles/{id}/download/"): AUDITORS,
    ("GET", "/api/archive/bundles/{id}/verify/"): AUDITORS,
    ("POST", "/api/archive/bundles/verify-upload/"): ANY_ROLE,
    # Bundle builds (queued when a broker is configured) are read like bundles; nobody writes them directly.
    ("GET", "/api/archive/bundle-builds/"): ANY_ROLE,
    ("GET", "/api/archive/bundle-builds/{id}/"): AUDITORS,
    ("GET", "/api/archive/holds/"): ANY_ROLE,
    ("POST", "/api/archive/holds/"): AUDITORS,
    ("GET", "/api/archive/holds/{id}/"): ANY_ROLE,
    ("POST", "/api/archive/holds/{id}/release/"): AUDITORS,
    ("GET", "/api/archive/retention-policies/"): ANY_ROLE,
    ("POST", "/api/archive/retention-policies/"): ADMIN_ONLY,
    ("GET", "/api/archive/retention-policies/{id}/"): ANY_ROLE,
    ("PUT", "/api/archive/retention-policies/{id}/"): ADMIN_ONLY,
    ("PATCH", "/api/archive/retention-policies/{id}/"): ADMIN_ONLY,
    ("DELETE", "/api/archive/retention-policies/{id}/"): ADMIN_ONLY,
    ("POST", "/api/archive/retention-policies/apply/"): ADMIN_ONLY,
    ("GET", "/api/archive/retention-policies/preview/"): AUDITORS,
    # Audit trail: auditors read it; nobody writes it through the API except an admin's manual checkpoint.
    ("GET", "/api/audit/checkpoints/"): AUDITORS,
    ("POST", "/api/audit/checkpoints/"): ADMIN_ONLY,
    ("GET", "/api/audit/checkpoints/{seq}/"): AUDITORS,
    ("GET", "/api/audit/entries/"): AUDITORS,
    ("GET", "/api/audit/entries/{seq}/"): AUDITORS,
    ("GET", "/api/audit/export/"): AUDITORS,
    ("GET", "/api/audit/verify/"): AUDITORS,
    # Connectors hold secrets: admins only, even to read. Harvest records are readable by any role.
    ("GET", "/api/connectors/"): ADMIN_ONLY,
    ("POST", "/api/connectors/"): ADMIN_ONLY,
    ("GET", "/api/connectors/{name}/"): ADMIN_ONLY,
    ("PUT", "/api/connectors/{name}/"): ADMIN_ONLY,
    ("PATCH", "/api/connectors/{name}/"): ADMIN_ONLY,
    ("DELETE", "/api/connectors/{name}/"): ADMIN_ONLY,
    ("POST", "/api/connectors/{name}/harvest/"): ADMIN_ONLY,
    ("GET", "/api/harvests/"): ANY_ROLE,
    ("GET", "/api/harvests/{id}/"): ANY_ROLE,
    # Lineage: read by any role; written by ingest (engineers) and explicit links (engineers).
    ("GET", "/api/nodes/"): ANY_ROLE,
    ("GET", "/api/nodes/{id}/"): ANY_ROLE,
    ("GET", "/api/nodes/{id}/lineage/"): ANY_ROLE,
    ("GET", "/api/nodes/{id}/path/"): ANY_ROLE,
    ("GET", "/api/edges/"): ANY_ROLE,
    ("GET", "/api/edges/{id}/"): ANY_ROLE,
    ("GET", "/api/raw-records/"): ANY_ROLE,
    ("GET", "/api/raw-records/{id}/"): ANY_ROLE,
    ("GET", "/api/ingested-events/"): ANY_ROLE,
    ("GET", "/api/ingested-events/{id}/"): ANY_ROLE,
    ("GET", "/api/v1/lineage"): ANY_ROLE,
    ("POST", "/api/v1/lineage"): ENGINEERS,
    ("POST", "/api/v1/lineage/batch"): ENGINEERS,
    ("POST", "/api/links/same-as/"): ENGINEERS,
    ("POST", "/api/links/same-as/{id}/confirm/"): APPROVERS,
    **{("GET", f"/api/{prefix}/"): ANY_ROLE for prefix in _NODE_ROUTES},
    **{("GET", f"/api/{prefix}/{{id}}/"): ANY_ROLE for prefix in _NODE_ROUTES},
    ("GET", "/api/model-versions/{node_id}/stage-history/"): ANY_ROLE,
    ("GET", "/api/model-versions/{id}/provenance/"): ANY_ROLE,
    ("GET", "/api/model-registry/"): ANY_ROLE,
    # Approvals: engineers request, approvers decide, admins configure, override and retry.
    ("GET", "/api/stages/"): ANY_ROLE,
    ("POST", "/api/stages/"): ADMIN_ONLY,
    ("GET", "/api/stages/{name}/"): ANY_ROLE,
    ("PUT", "/api/stages/{name}/"): ADMIN_ONLY,
    ("PATCH", "/api/stages/{name}/"): ADMIN_ONLY,
    ("DELETE", "/api/stages/{name}/"): ADMIN_ONLY,
    ("GET", "/api/stage-policies/"): ANY_ROLE,
    ("POST", "/api/stage-policies/"): ADMIN_ONLY,
    ("GET", "/api/stage-policies/{stage}/"): ANY_ROLE,
    ("PUT", "/api/stage-policies/{stage}/"): ADMIN_ONLY,
    ("PATCH", "/api/stage-policies/{stage}/"): ADMIN_ONLY,
    ("DELETE", "/api/stage-policies/{stage}/"): ADMIN_ONLY,
    ("GET", "/api/promotion-requests/"): ANY_ROLE,
    ("POST", "/api/promotion-requests/"): ENGINEERS,
    ("GET", "/api/promotion-requests/{id}/"): ANY_ROLE,
    ("POST", "/api/promotion-requests/{id}/submit/"): ENGINEERS,
    ("POST", "/api/promotion-requests/{id}/withdraw/"): ENGINEERS,
    ("POST", "/api/promotion-requests/{id}/evaluate/"): ENGINEERS | APPROVERS,
    ("POST", "/api/promotion-requests/{id}/approve/"): APPROVERS,
    ("POST", "/api/promotion-requests/{id}/reject/"): APPROVERS,
    ("POST", "/api/promotion-requests/{id}/override/"): ADMIN_ONLY,
    ("POST", "/api/promotion-requests/{id}/execute/"): ADMIN_ONLY,
    ("GET", "/api/promotion-decisions/"): ANY_ROLE,
    ("GET", "/api/promotion-decisions/{id}/"): ANY_ROLE,
    ("GET", "/api/stage-assignments/"): ANY_ROLE,
    ("GET", "/api/stage-assignments/{id}/"): ANY_ROLE,
    ("GET", "/api/webhooks/"): ADMIN_ONLY,
    ("POST", "/api/webhooks/"): ADMIN_ONLY,
    ("GET", "/api/webhooks/{id}/"): ADMIN_ONLY,
    ("PUT", "/api/webhooks/{id}/"): ADMIN_ONLY,
    ("PATCH", "/api/webhooks/{id}/"): ADMIN_ONLY,
    ("DELETE", "/api/webhooks/{id}/"): ADMIN_ONLY,
    ("GET", "/api/webhook-deliveries/"): ADMIN_ONLY,
    ("GET", "/api/webhook-deliveries/{id}/"): ADMIN_ONLY,
    ("GET", "/api/tokens/"): SIGNED_IN,
    ("GET", "/api/whoami/"): SIGNED_IN,
    ("POST", "/api/tokens/"): SIGNED_IN,
    ("GET", "/api/tokens/{id}/"): ADMIN_ONLY,
    ("PATCH", "/api/tokens/{id}/"): ADMIN_ONLY,
    ("DELETE", "/api/tokens/{id}/"): ADMIN_ONLY,
}

# Routes outside the API schema, by the resolver's top-level prefix -> (method, concrete URL, allowed roles).
# Pages: anonymous is sent to the login form (302), which the helper counts as "denied".
PAGE_MATRIX: dict[str, tuple[str, str, frozenset]] = {
    "": ("GET", "/", PUBLIC),  # a redirect to /dashboard/
    # Django's admin site wants is_staff, which no role grants: every role is sent to the admin login.
    "admin/": ("GET", "/admin/", NOBODY),
    "accounts/login/": ("GET", "/accounts/login/", PUBLIC),
    "accounts/logout/": ("POST", "/accounts/logout/", PUBLIC),
    # Without OIDC_ISSUER (here) single sign-on sends every caller back to the login form.
    "accounts/oidc/": ("GET", "/accounts/oidc/login/", NOBODY),
    "accounts/tokens/": ("GET", "/accounts/tokens/", SIGNED_IN),
    "dashboard/": ("GET", "/dashboard/", SIGNED_IN),
    "api/schema/": ("GET", "/api/schema/", SIGNED_IN),
    "api/docs/": ("GET", "/api/docs/", SIGNED_IN),
    "api/": ("GET", "/api/", ANY_ROLE),  # the API root: every resource of every app
}


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops
            if method in {"get", "post", "put", "patch", "delete"}}


def top_level_routes() -> set[str]:
    """The project's own top-level prefixes; those that include API routes are covered by the schema."""
    in_schema = {path for _, path in schema_operations()}
    found = set()
    for entry in get_resolver().url_patterns:
        prefix = str(entry.pattern)
        if (isinstance(entry, URLResolver) and prefix == "api/") or "/" + prefix in in_schema:
            continue
        assert isinstance(entry, (URLPattern, URLResolver))
        found.add(prefix)
    return found


def test_every_api_operation_has_an_entry():
    served = schema_operations()
    assert served - API_MATRIX.keys() == set(), "endpoints without a decision on who may call them"
    assert API_MATRIX.keys() - served == set(), "table entries for endpoints that are no longer served"


def test_every_page_outside_the_api_has_an_entry():
    assert top_level_routes() == set(PAGE_MATRIX)


@pytest.fixture(scope="module")
def oidc_provider():
    from tests.support.oidc import GROUPS, OidcProvider

    services = {f"svc-{role}": [GROUPS[role]] for role in (ENGINEER, AUDITOR, APPROVER, ADMIN)}
    provider = OidcProvider(redirect_uris=["http://testserver/accounts/oidc/callback/"],
                            service_roles={**services, "svc-outsider": ["not-a-mapped-group"]})
    provider.tokens = {}
    yield provider
    provider.stop()


@pytest.fixture(params=["api-token", pytest.param("oidc", marks=pytest.mark.slow)])
def clients(request, clients, users, settings):
    """The same people calling with their personal API tokens, or (issue 20) with access tokens of the
    organisation's OpenID provider: each role's user linked to a service client whose groups map to that
    role, authenticated by a JWT the provider issued."""
    if request.param == "api-token":
        return clients
    from rest_framework.test import APIClient

    from governance.accounts.models import OidcIdentity

    provider = request.getfixturevalue("oidc_provider")
    provider.settings(settings)
    made = {"anonymous": clients["anonymous"]}
    for role in ROLES[1:]:
        OidcIdentity.objects.create(user=users[role], issuer=provider.issuer, subject=f"svc-{role}", is_service=True)
        if role not in provider.tokens:
            provider.tokens[role] = provider.service_token(f"svc-{role}")
        made[role] = APIClient()
        made[role].credentials(HTTP_AUTHORIZATION="Bearer " + provider.tokens[role])
    return made


def _call(client, method: str, url: str):
    with transaction.atomic():
        response = getattr(client, method.lower())(url, data=json.dumps({}), content_type="application/json") \
            if method != "GET" else client.get(url)
        transaction.set_rollback(True)
    return response


def _verdicts(clients, method: str, url: str, allowed: frozenset, hidden: frozenset = NOBODY) -> dict[str, str]:
    """Per role: "ok" when the answer matches the table, else what came back."""
    got = {}
    for role in ROLES:
        response = _call(clients[role], method, url)
        code = response.status_code
        if role in hidden:
            good = code == 404
        elif role in allowed:
            good = code == 200 if method == "GET" else code not in (401, 403) and code < 500
        else:
            good = code == (401 if role == "anonymous" else 403)
        got[role] = "ok" if good else f"{code} {getattr(response, 'content', b'')[:160]!r}"
    return got


@pytest.mark.parametrize("method, path", sorted(API_MATRIX), ids=lambda v: v)
def test_api_operation_lets_in_exactly_the_roles_in_the_table(clients, world, method, path):
    url = concrete(path, world)
    got = _verdicts(clients, method, url, API_MATRIX[(method, path)], HIDDEN_404.get(path, NOBODY))
    assert got == {role: "ok" for role in ROLES}, url


@pytest.mark.parametrize("prefix", sorted(PAGE_MATRIX))
def test_page_lets_in_exactly_the_roles_in_the_table(users, prefix):
    from django.test import Client

    method, url, allowed = PAGE_MATRIX[prefix]
    for role in ROLES:
        client = Client()
        if role != "anonymous":
            client.force_login(users[role])
        response = getattr(client, method.lower())(url)
        if role in allowed:
            assert response.status_code in (200, 302), (role, response.status_code)
            if response.status_code == 302 and url != "/" and method == "GET":
                assert "/login/" not in response["Location"], (role, response["Location"])
        elif response.status_code == 302:
            assert "/login/" in response["Location"], (role, response["Location"])
        else:  # API-style answers: 401 for anonymous, 403 for a signed-in caller without the right
            assert response.status_code == (401 if role == "anonymous" else 403), (role, response.status_code)
