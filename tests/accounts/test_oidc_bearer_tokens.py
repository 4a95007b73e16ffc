"""OpenID Connect access tokens as API Bearer tokens for service accounts: a JWT from the real provider
(client credentials) is accepted with the roles its groups claim maps to; one for another audience, one
whose signature does not verify, one from another issuer, or with OIDC_API_AUDIENCE unset, is refused."""
from __future__ import annotations

import base64
import json
import time

import pytest
from django.contrib.auth.models import Group
from joserfc import jwt
from joserfc.jwk import RSAKey
from rest_framework.test import APIClient

from governance.accounts.models import OidcIdentity
from governance.audit.models import AuditEntry
from tests.support.oidc import API_AUDIENCE, GROUPS, OidcProvider

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EVENT = {
    "eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "producer": "https://example.com/p",
    "run": {"runId": "0f4f8e5e-0000-4000-8000-0000000000aa"}, "job": {"namespace": "ns", "name": "svc"},
}


@pytest.fixture(scope="module")
def provider():
    op = OidcProvider(redirect_uris=["http://testserver/accounts/oidc/callback/"], service_roles={
        "svc-ingest": [GROUPS["engineer"]], "svc-audit": [GROUPS["auditor"]], "svc-nothing": ["unmapped"]})
    yield op
    op.stop()


@pytest.fixture
def sso(provider, settings):
    provider.settings(settings)
    return provider


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token)
    return client


def post_event(client):
    return client.post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json")


def test_a_service_token_acts_with_the_roles_of_its_groups(sso):
    token = sso.service_token("svc-ingest")
    assert post_event(bearer(token)).status_code == 201
    identity = OidcIdentity.objects.select_related("user").get(subject="svc-ingest")
    assert identity.is_service and identity.issuer == sso.issuer
    assert set(identity.user.groups.values_list("name", flat=True)) == {"engineer"}
    entry = AuditEntry.objects.filter(action__startswith="ingest").latest("seq")
    assert entry.actor_id == identity.user_id
    # Engineers do not read the audit trail; the auditor's service does.
    assert bearer(token).get("/api/audit/entries/").status_code == 403
    assert bearer(sso.service_token("svc-audit")).get("/api/audit/entries/").status_code == 200
    # A token whose groups map to no role authenticates and may do nothing.
    assert bearer(sso.service_token("svc-nothing")).get("/api/nodes/").status_code == 403


def test_roles_follow_the_token_on_every_request(sso):
    token = sso.service_token("svc-ingest")
    assert post_event(bearer(token)).status_code == 201
    user = OidcIdentity.objects.get(subject="svc-ingest").user
    user.groups.add(Group.objects.get(name="admin"))  # granted locally: the next token's claims win
    assert bearer(token).get("/api/connectors/").status_code == 403
    assert set(user.groups.values_list("name", flat=True)) == {"engineer"}


def test_a_token_for_another_audience_is_refused(sso):
    token = sso.service_token("svc-ingest", resource="https://another-service.test/api")
    answer = post_event(bearer(token))
    assert answer.status_code == 401 and answer.json()["error"] == "authentication_failed"
    assert "aud" in answer.json()["detail"]
    assert not OidcIdentity.objects.exists()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_whose_signature_does_not_verify_is_refused(sso):
    token = sso.service_token("svc-ingest")
    header, payload, signature = token.split(".")
    # The provider's own token with its claims changed (groups: admin), signature kept.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = [GROUPS["admin"]]
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    assert bearer(forged).get("/api/connectors/").status_code == 401
    # Claims signed with a key of our own under the provider's key id.
    own = RSAKey.generate_key(2048, parameters={"kid": "test-signing-key"})
    now = int(time.time())
    signed = jwt.encode({"alg": "RS256", "kid": "test-signing-key", "typ": "at+jwt"},
                        {"iss": sso.issuer, "aud": API_AUDIENCE, "sub": "svc-ingest", "iat": now, "exp": now + 600,
                         "groups": [GROUPS["admin"]]}, own)
    assert bearer(signed).get("/api/connectors/").status_code == 401
    # Unsigned ("alg": "none") is not among the accepted algorithms.
    none = ".".join([_b64(b'{"alg":"none","typ":"JWT"}'), payload, ""])
    assert bearer(none).get("/api/nodes/").status_code == 401
    assert not OidcIdentity.objects.exists()


def test_tokens_are_refused_when_the_api_audience_is_not_configured(sso, settings):
    token = sso.service_token("svc-ingest")
    settings.OIDC_API_AUDIENCE = ""
    assert post_event(bearer(token)).status_code == 401


def test_a_token_from_another_issuer_is_refused(sso, settings):
    token = sso.service_token("svc-ingest")
    settings.OIDC_ISSUER = sso.issuer + "/other"
    from governance.accounts.oidc_bearer import JWKS

    JWKS.clear()
    assert post_event(bearer(token)).status_code == 401
