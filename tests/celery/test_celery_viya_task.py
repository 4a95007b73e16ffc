"""A Viya connector through the harvest task: one partition (its cursor is a chain of change stamps read in
order), the connector's lock, and a store equal to a plain in-process harvest of the same connector."""
import pytest

from connectors import registry, tasks
from connectors.base import run_harvest
from devtools.kubeflow.testing import snapshot
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from devtools.viya.fake_server import FakeViya
from tests.support.viya import small_state
from common.audit import context
from lineage.models import Edge, Node, NodeRevision, RawRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def viya():
    with FakeViya(small_state()) as fake:
        yield fake


def test_a_viya_harvest_task_is_one_partition_equal_to_a_plain_harvest(viya):
    config = ConnectorConfig(name="viya-prod", kind="viya", settings={"url": viya.url, "username": "viya-user"})
    config.set_secrets({"password": "viya-password"})
    config.save()
    with context.acting_as(context.AuditContext(username="t", service="harvester:viya")):
        run_harvest(registry.plugin("viya").from_config(config), config=config)
    expected = snapshot()
    assert expected[0]
    for model in (Edge, NodeRevision, Node, RawRecord, HarvestCursor, Harvest):
        model.objects.all().delete()

    result = tasks.harvest_task.delay("viya-prod").get()
    assert result["status"] == "started" and result["partitions"] == 1
    done = Harvest.objects.get(pk=result["harvest"])
    assert done.status == "succeeded", done.error
    assert done.counts["partitions"]["done"] == [0] and done.pages >= 1
    assert snapshot() == expected
    assert HarvestCursor.objects.get(key=done.source_key).cursor == done.cursor_after
