"""The OpenAPI schema of the lineage read API is valid and generates without a single warning.

This module doubles as the URL conf the check runs against (only this app's routes, so other apps'
warnings do not hide ours or fail us), and it names the enum overrides the project settings should carry
too (see ENUM_NAME_OVERRIDES): Node.kind and Edge.kind are both called `kind` with different choices.
"""
import pytest
import yaml
from django.core.management import call_command
from django.urls import include, path

urlpatterns = [path("api/", include("lineage.api.urls"))]

SCHEMA_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "NodeKindEnum": "lineage.kinds.NodeKind",
        "EdgeKindEnum": "lineage.kinds.EdgeKind",
    },
}


@pytest.fixture
def clean_stats():
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    yield
    GENERATOR_STATS.reset()


def test_schema_validates_with_no_warnings(db, tmp_path, clean_stats):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", __name__,
                 "--custom-settings", f"{__name__}.SCHEMA_SETTINGS", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    for route in ("/api/nodes/", "/api/nodes/{id}/", "/api/nodes/{id}/lineage/", "/api/nodes/{id}/path/",
                  "/api/jobs/", "/api/runs/", "/api/datasets/", "/api/models/", "/api/model-versions/",
                  "/api/deployments/", "/api/edges/", "/api/raw-records/{id}/"):
        assert route in paths, route
    lineage_params = {p["name"] for p in paths["/api/nodes/{id}/lineage/"]["get"]["parameters"]}
    assert {"direction", "depth", "as_of", "node_kinds", "edge_kinds", "max_nodes"} <= lineage_params
    body = paths["/api/nodes/{id}/lineage/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert {"nodes", "edges", "truncated"} <= set(component["properties"])
    list_params = {p["name"] for p in paths["/api/nodes/"]["get"]["parameters"]}
    assert {"kind", "source", "source_id", "namespace", "name", "q", "search", "cursor", "archived",
            "first_seen_after", "last_seen_before"} <= list_params
    raw = schema["components"]["schemas"]["RawRecordDetail"]
    assert "body" in raw["properties"]
    # A node detail answers null here without ?as_of=, or for an as_of before the node existed (schemathesis
    # found the schema saying otherwise).
    detail = schema["components"]["schemas"]["NodeDetail"]["properties"]
    assert detail["properties_as_of"]["nullable"] is True and detail["as_of"]["nullable"] is True
