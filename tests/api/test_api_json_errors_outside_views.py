"""What Django answers under /api/ without a DRF view is JSON in the error shape too: an unknown path (404,
whatever DEBUG says), a server error (500, with no traceback or exception text), and a view crashing inside
DRF (500, logged under the request id)."""
from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from governance import api_errors


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_are_json_404(clients, settings, debug):
    settings.DEBUG = debug
    for path in ("/api/nothing", "/api/v2/lineage", "/api/nodes/abc/"):
        response = clients["engineer"].get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path


def test_server_errors_under_api_are_json_without_internals():
    response = api_errors.handler500(RequestFactory().get("/api/nodes/"))
    body = json.loads(response.content)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert body["error"] == "server_error" and "X-Request-ID" in body["detail"]
    page = api_errors.handler500(RequestFactory().get("/dashboard/"))
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_crash_inside_a_view_is_a_json_500(clients, monkeypatch):
    from lineage.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals: SELECT * FROM lineage_node")

    monkeypatch.setattr(views._NodeViewSetBase, "get_queryset", boom)
    response = clients["engineer"].get("/api/nodes/")
    assert response.status_code == 500 and response.json()["error"] == "server_error"
    assert "SELECT" not in response.content.decode() and "RuntimeError" not in response.content.decode()
