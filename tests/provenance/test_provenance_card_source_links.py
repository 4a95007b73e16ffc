"""Links back to each source's own UI: built from the connector that harvested a node (its instance), and
only then; a URL the source recorded on the node is offered as it is."""
from __future__ import annotations

import pytest

from connectors.models import ConnectorConfig
from tests.conftest import client_for
from tests.support.provenance import timed_story

pytestmark = pytest.mark.django_db


def test_links_come_from_the_harvesting_connector(users):
    ids = timed_story()
    client = client_for(users["engineer"])
    card = client.get(f"/api/model-versions/{ids['viya']}/provenance/").json()
    assert card["runs"][0]["links"] == [] and card["model_version"]["links"] == []  # no connector: no guess
    ConnectorConfig.objects.create(name="kfp", kind="kubeflow", settings={"kfp_host": "https://kfp.example/", "instance": "story"})
    ConnectorConfig.objects.create(name="viya", kind="viya", settings={"url": "https://viya.example", "instance": "story-viya"})
    card = client.get(f"/api/model-versions/{ids['viya']}/provenance/").json()
    assert card["runs"][0]["links"] == [{"label": "Kubeflow run", "url": "https://kfp.example/#/runs/details/r1"}]


def test_a_viya_version_links_to_model_manager_and_recorded_urls_are_kept(users):
    from lineage import store
    from lineage.store import NodeFact, NodeKey

    key = NodeKey("viya", "model_version", "prod/model/m-1/version/1.0")
    node = store.apply([NodeFact(key, name="m 1.0", properties={"viya_kind": "model_version", "model_id": "m-1",
                                                               "external_url": "https://wiki.example/m-1"})]).nodes[key]
    ConnectorConfig.objects.create(name="viya-prod", kind="viya", settings={"url": "https://viya.example", "instance": "prod"})
    card = client_for(users["auditor"]).get(f"/api/model-versions/{node.pk}/provenance/").json()
    assert card["model_version"]["links"] == [
        {"label": "SAS Model Manager", "url": "https://viya.example/SASModelManager/models/m-1"},
        {"label": "external url", "url": "https://wiki.example/m-1"}]
