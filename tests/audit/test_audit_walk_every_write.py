"""Audit completeness, walked over every operation of the OpenAPI schema (/api/schema/):

- a successful write adds at least one audit entry;
- the same write refused (a caller without the role: 403) adds a `….refused` entry naming the actor, the
  request id and the reason the caller was told;
- a GET adds none, unless it hands out evidence (audit export, bundle download), which is recorded.

Each request runs in a savepoint rolled back afterwards, so the writes do not disturb one another. A new
write endpoint without a recipe in tests/support/api_world.py fails here first: decide how it is audited.
"""
from __future__ import annotations

import json

import pytest
from django.db import transaction

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from governance.audit.models import AuditEntry
from tests.support.api_world import build_world, concrete, schema_operations, successful_writes

pytestmark = pytest.mark.django_db

RECORDED_READS = {("GET", "/api/audit/export/"), ("GET", "/api/archive/bundles/{id}/download/")}
# Writes that change nothing, so have nothing to audit on success:
CHECKS = {("POST", "/api/archive/bundles/verify-upload/"): "checks an uploaded file and stores nothing"}
# Writes whose success needs a live source system; walked with an admin, which the server refuses (409),
# so the refusal entry is what is asserted.
REFUSED_EVEN_FOR_ADMIN = {("POST", "/api/connectors/{name}/harvest/"): "the world's connector is disabled"}
# Deleting the stage or policy every request points at is refused (409 protected) — which is audited.
PROTECTED = {("DELETE", "/api/stages/{name}/")}
READ_ROLE = {"/api/audit/": AUDITOR, "/api/connectors/": ADMIN, "/api/webhook": ADMIN, "/api/tokens/": ADMIN}
# A user's own API tokens: every signed-in user, role or not, manages theirs, so no caller is refused by role
# (another user's token answers 404, as if it did not exist: tests/accounts/test_tokens_personal_lifecycle.py).
PERSONAL = {("POST", "/api/tokens/"), ("PATCH", "/api/tokens/{id}/"), ("DELETE", "/api/tokens/{id}/")}


def _send(client, method, url, body):
    with transaction.atomic():
        before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        if method == "GET":
            response = client.get(url)
        elif body is None:
            response = client.generic(method, url)
        else:
            response = client.generic(method, url, json.dumps(body), content_type="application/json")
        added = list(AuditEntry.objects.filter(seq__gt=before).order_by("seq"))
        transaction.set_rollback(True)
    return response, added


def test_every_write_is_audited_and_every_read_is_not(clients, users):
    from django.contrib.auth.models import Group

    # The admin holds every role, as the demo's does: a write's success is about auditing, not who may call.
    users[ADMIN].groups.add(*Group.objects.filter(name__in=[ENGINEER, AUDITOR, APPROVER]))
    world = build_world(users)
    recipes = successful_writes(world)
    problems = []
    for method, path in schema_operations():
        key = (method, path)
        if method == "GET":
            role = next((r for prefix, r in READ_ROLE.items() if path.startswith(prefix)), AUDITOR)
            response, added = _send(clients[role], method, concrete(path, world), None)
            if response.status_code != 200:
                problems.append((key, "read failed", response.status_code))
            elif key in RECORDED_READS and not added:
                problems.append((key, "evidence handed out without an audit entry"))
            elif key not in RECORDED_READS and added:
                problems.append((key, "a read added audit entries", [e.action for e in added]))
            continue
        if key in CHECKS:
            continue
        url = concrete(path, world, recipes.get(key, (None, None, "pending"))[2] or "pending")
        if key in PERSONAL:
            response, added = _send(clients["outsider"], method, url, {})
            if method != "POST" and (response.status_code != 404 or added):
                problems.append((key, "another user's token was not hidden", response.status_code))
            else:
                role, body, _ = recipes[key]
                response, added = _send(clients[role], method, url, body)
                if response.status_code >= 300 or not added:
                    problems.append((key, "own token write failed or left no entry", response.status_code))
            continue
        # Refused: a signed-in caller without any role.
        response, added = _send(clients["outsider"], method, url, {})
        refusals = [e for e in added if e.action.endswith(".refused")]
        if response.status_code != 403 or len(refusals) != 1:
            problems.append((key, "refusal not audited once", response.status_code, [e.action for e in added]))
        else:
            entry = refusals[0]
            if (entry.actor_username != "outsider" or entry.request_id != response["X-Request-ID"]
                    or not entry.reason or entry.after["status"] != 403):
                problems.append((key, "refusal entry incomplete", entry.actor_username, entry.reason, entry.after))
        if key in REFUSED_EVEN_FOR_ADMIN or key in PROTECTED:
            response, added = _send(clients[ADMIN], method, url, {})
            if response.status_code != 409 or not any(e.action.endswith(".refused") for e in added):
                problems.append((key, "governed refusal not audited", response.status_code, [e.action for e in added]))
            continue
        if key not in recipes:
            problems.append((key, "no recipe for a successful call: add one to tests/support/api_world.py"))
            continue
        role, body, _ = recipes[key]
        response, added = _send(clients[role], method, url, body)
        if response.status_code >= 300:
            problems.append((key, "the recipe did not succeed", response.status_code, response.content[:200]))
        elif not added or any(e.action.endswith(".refused") for e in added):
            problems.append((key, "a successful write left no audit entry", [e.action for e in added]))
    assert not problems, "\n".join(map(str, problems))
