"""Every write operation of the OpenAPI schema, sent bodies no endpoint may take (nested past
JSON_MAX_DEPTH, a NUL character, a lone surrogate, NaN, malformed JSON, text/plain, no Content-Type) by a
caller allowed to write: a JSON 400/415 in the error shape, and nothing stored. Endpoints that take no body
(submit, evaluate, execute, apply, harvest) never read it; they must still answer without a 5xx."""
from __future__ import annotations


import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from tests.support.api_world import build_world, concrete, successful_writes
from tests.support.store_counts import stored_counts

pytestmark = pytest.mark.django_db

BODIES = [
    ("deep", '{"a": ' + "[" * 5000 + "]" * 5000 + "}", "application/json", 400, "json_too_deep"),
    ("nul", '{"name": "a\\u0000b", "reason": "x\\u0000", "node": 1}', "application/json", 400, "nul_character"),
    ("surrogate", '{"name": "a\\ud800b", "reason": "\\udfff"}', "application/json", 400, "invalid_unicode"),
    ("nan", '{"name": NaN}', "application/json", 400, "malformed_json"),
    ("malformed", '{"name": ', "application/json", 400, "malformed_json"),
    ("text/plain", '{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
    ("no content type", '{"name": "x"}', "", 415, "unsupported_media_type"),
]


def _writes_with_bodies():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, ops in sorted(schema["paths"].items()):
        for method in ("post", "put", "patch"):
            if method in ops:
                yield method.upper(), path, "requestBody" in ops[method]


def _accepted(path: str, status: int, code: str) -> set:
    """The ingest endpoints judge the shape first: a body that is not an event is refused as such (its NUL
    or surrogate inside real events: tests/test_api_bad_input_table.py)."""
    accepted = {(status, code)}
    if path.startswith("/api/v1/lineage") and status == 400:
        accepted.add((400, "not_an_event"))
    return accepted


def test_no_bad_body_is_taken_by_any_write(users, clients):
    from django.contrib.auth.models import Group

    users["admin"].groups.add(*Group.objects.filter(name__in=["engineer", "auditor", "approver"]))
    world = build_world(users)
    recipes = successful_writes(world)
    wrong = []
    for method, path, has_body in _writes_with_bodies():
        url = concrete(path, world, recipes.get((method, path), (None, None, "pending"))[2] or "pending")
        for name, body, content_type, status, code in BODIES:
            with transaction.atomic():
                before = stored_counts()
                response = clients["admin"].generic(method, url, body, content_type=content_type)
                changed = stored_counts() != before
                transaction.set_rollback(True)
            if response.status_code >= 500 or not response["Content-Type"].startswith("application/json"):
                wrong.append((method, path, name, response.status_code, response.content[:120]))
            elif has_body and path != "/api/archive/bundles/verify-upload/" and (
                    (response.status_code, response.json().get("error")) not in _accepted(path, status, code)
                    or changed):
                wrong.append((method, path, name, response.status_code, response.json().get("error"), changed))
    assert not wrong, "\n".join(map(str, wrong))
