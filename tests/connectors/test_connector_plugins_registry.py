"""A connector is one package plus a registration line: its kind is accepted by the API and the admin
without a migration, its nodes are drawn in its own style, and a kind that is not registered is refused
with a clear JSON error that changes nothing."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from connectors import registry
from connectors.admin import ConnectorConfigForm
from connectors.models import ConnectorConfig
from dashboard import graph_style
from tests.support import dummy_connector

pytestmark = pytest.mark.django_db
URL = "/api/connectors/"


@pytest.fixture
def dummy(monkeypatch):
    monkeypatch.setitem(registry.PLUGINS, "dummy", "tests.support.dummy_connector")
    monkeypatch.setattr(dummy_connector, "NODE_STYLE", ("#123456", "dashed"), raising=False)


def test_a_registered_kind_needs_no_migration_and_is_accepted(clients, dummy):
    out = io.StringIO()
    call_command("makemigrations", "connectors", "--check", "--dry-run", stdout=out)  # exits non-zero on changes
    assert "No changes detected" in out.getvalue()
    r = clients["admin"].post(URL, {"name": "d1", "kind": "dummy", "settings": {"items": ["a"]}}, format="json")
    assert r.status_code == 201, r.content
    assert ConnectorConfig.objects.get(name="d1").kind == "dummy"
    assert ("dummy", "dummy") in list(ConnectorConfigForm().fields["kind"].choices)


def test_the_mlflow_connector_is_configured_like_the_others(clients):
    body = {"name": "ml", "kind": "mlflow", "settings": {"tracking_uri": "http://mlflow.example:5000"},
            "secrets": {"token": "s3cret"}}
    r = clients["admin"].post(URL, body, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["secret_names"] == ["token"] and "s3cret" not in r.content.decode()
    bad = clients["admin"].post(URL, {**body, "name": "ml2", "settings": {"tracking_uri": "ftp://x"}}, format="json")
    assert bad.status_code == 400 and "tracking_uri" in str(bad.json()["detail"]["settings"])


def test_an_unregistered_kind_is_refused_and_changes_nothing(clients):
    r = clients["admin"].post(URL, {"name": "x", "kind": "nosuch", "settings": {}}, format="json")
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] and "nosuch" in str(r.json()["detail"]["kind"]) and "mlflow" in str(r.json()["detail"]["kind"])
    assert not ConnectorConfig.objects.exists()


def test_node_styles_come_from_the_plugins(dummy):
    borders = graph_style.source_borders()
    assert borders["dummy"] == ("#123456", "dashed")
    assert set(registry.PLUGINS) <= set(borders) and {"openlineage", "manual"} <= set(borders)
    rules = {r["selector"]: r["style"] for r in graph_style.stylesheet()}
    assert rules["node.source-dummy"] == {"border-color": "#123456", "border-style": "dashed"}
    assert rules["node.source-mlflow"]["border-color"] == "#6a1b9a"
