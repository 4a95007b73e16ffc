"""The provenance card and registry are described by the OpenAPI schema: it validates without warnings
(this module is the URL conf the check runs against), and the documented shape is the answered one, key
for key, at every level."""
import pytest
import yaml
from django.core.management import call_command
from django.urls import include, path

from tests.conftest import client_for
from tests.support.provenance import timed_story

urlpatterns = [path("api/", include("governance.provenance.urls"))]
pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(tmp_path):
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", __name__, "--file", str(out))
    GENERATOR_STATS.reset()
    return yaml.safe_load(out.read_text())


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node:
        return _resolve(schema, node["allOf"][0])
    return node


def _check(schema, documented, answered, where):
    documented = _resolve(schema, documented)
    if isinstance(answered, dict) and answered and documented.get("type") == "object" and "properties" in documented:
        assert set(documented["properties"]) == set(answered), where
        for key, value in answered.items():
            _check(schema, documented["properties"][key], value, f"{where}.{key}")
    elif isinstance(answered, list) and answered and documented.get("type") == "array":
        for item in answered[:3]:
            _check(schema, documented["items"], item, f"{where}[]")


def test_schema_documents_the_card_and_its_parameters(schema, users):
    paths = schema["paths"]
    card_op = paths["/api/model-versions/{id}/provenance/"]["get"]
    assert {p["name"] for p in card_op["parameters"]} >= {"id", "depth", "as_of"}
    registry_op = paths["/api/model-registry/"]["get"]
    assert {p["name"] for p in registry_op["parameters"]} >= {"q", "stage", "source", "pending", "has_evidence", "sort",
                                                              "offset", "limit"}
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from governance.archive.services import build_bundle
    from common.audit import context
    from lineage.models import Node

    ids = timed_story()
    node = Node.objects.get(pk=ids["viya"])
    open_policy("staging", approvals=1, require_producing_run=True)
    with context.acting_as(context.for_user(users["engineer"])):
        req = services.create_request(users["engineer"], node=node, target_stage=Stage.objects.get(name="staging"),
                                      justification="ok", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        services.decide(users["approver"], req.pk, "approve", "ok")
    with context.acting_as(context.for_user(users["auditor"])):
        build_bundle(node, users["auditor"], depth=3)
    answered = client_for(users["auditor"]).get(f"/api/model-versions/{node.pk}/provenance/").json()
    assert answered["runs"] and answered["approvals"] and answered["evidence"]["bundles"] and answered["gates"]["results"]
    documented = card_op["responses"]["200"]["content"]["application/json"]["schema"]
    _check(schema, documented, answered, "card")
    registry = client_for(users["auditor"]).get("/api/model-registry/").json()
    _check(schema, registry_op["responses"]["200"]["content"]["application/json"]["schema"], registry, "registry")
