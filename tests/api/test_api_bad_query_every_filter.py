"""Every query parameter of every GET operation in the OpenAPI schema, given values a person or a fuzzer
might send (not a number, huge numbers, impossible dates, unknown choices, NUL): the answer is 200 or a JSON
4xx in the documented error shape, never a 5xx, the same on SQLite and PostgreSQL. A 400 names the parameter
it is about (not a neighbouring one)."""
from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.support.api_world import build_world, concrete

pytestmark = pytest.mark.django_db

VALUES = ["abc", "-1", "99999999999999999999999", "2024-13-45T99:99:99", "1e309", "%00", "x" * 3000, "",
          "true,false", "0001-01-01T00:00:00+23:59"]


def _get_params():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, ops in schema["paths"].items():
        op = ops.get("get")
        if not op:
            continue
        names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
        for name in names:
            yield path, name


def test_no_query_value_breaks_any_list(users, clients):
    from django.contrib.auth.models import Group

    users["admin"].groups.add(*Group.objects.filter(name__in=["engineer", "auditor", "approver"]))
    world = build_world(users)
    client = clients["admin"]
    wrong = []
    for path, name in _get_params():
        base = concrete(path, world)
        joiner = "&" if "?" in base else "?"
        for value in VALUES:
            raw = value if value == "%00" else value.replace("+", "%2B")
            response = client.get(f"{base}{joiner}{name}={raw}")
            status = response.status_code
            if status >= 500 or (status != 200 and not response["Content-Type"].startswith("application/json")):
                wrong.append((path, name, value[:20], status, response.content[:200]))
                continue
            if status == 400:
                body = response.json()
                detail = body.get("detail")
                if "error" not in body or detail in (None, "", {}):
                    wrong.append((path, name, value[:20], "error shape", body))
                elif isinstance(detail, dict) and name not in detail:
                    wrong.append((path, name, value[:20], "keyed to", sorted(detail)))
    assert not wrong, "\n".join(map(str, wrong[:40]))
