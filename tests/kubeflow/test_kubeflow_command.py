"""`manage.py harvest kubeflow ...` ad hoc and `manage.py harvest <connector-name>` for a configured connector;
`load_demo()` end to end."""
import pytest
from django.core.management import CommandError, call_command

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from connectors.models import ConnectorConfig, Harvest
from governance.audit.models import AuditEntry
from lineage.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(tmp_path):
    return demo.generate(tmp_path / "mlmd.sqlite")


def test_ad_hoc_harvest_of_api_and_mlmd(source, capsys):
    with FakeKfpServer.serving(source) as server:
        call_command("harvest", "kubeflow", "--kfp-host", server.url, "--mlmd-sqlite", str(source.mlmd_path),
                     "--instance", "adhoc", "--page-size", "2", "--progress", "--actor", "ops-alice")
    captured = capsys.readouterr()
    assert "succeeded" in captured.out and "runs 5" in captured.out
    assert "harvest adhoc" not in captured.out and "harvest kubeflow" in captured.err  # tqdm bar on stderr
    assert Node.objects.filter(source_id=f"adhoc/run/{demo.DEMO_KFP_RUN_ID}").exists()
    record = Harvest.objects.get()
    assert record.actor == "harvester:kubeflow" and record.connector is None
    assert AuditEntry.objects.get(action="harvest.succeeded").actor_username == "harvester:kubeflow"


def test_configured_connector_by_name(source, capsys):
    with FakeKfpServer.serving(source, token="tok") as server:
        config = ConnectorConfig(name="kfp-lab", kind="kubeflow",
                                 settings={"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path)})
        config.set_secrets({"kfp_token": "tok"})
        config.save()
        call_command("harvest", "kfp-lab", "--no-progress")
        call_command("harvest", "connector", "kfp-lab", "--no-progress")
    out = capsys.readouterr().out
    assert out.count("succeeded") == 2
    first, second = Harvest.objects.order_by("pk")
    assert first.connector == config and second.cursor_before == first.cursor_after
    assert second.counts["nodes_created"] == 0
    # the connector's name is its instance: node ids say which install they came from
    assert Node.objects.filter(source_id=f"kfp-lab/run/{demo.DEMO_KFP_RUN_ID}").exists()


def test_failures_are_command_errors_with_a_record(tmp_path):
    with pytest.raises(CommandError, match="cannot open ML Metadata"):
        call_command("harvest", "kubeflow", "--mlmd-sqlite", str(tmp_path / "missing.sqlite"), "--no-progress")
    assert Harvest.objects.get().status == "failed"
    with pytest.raises(CommandError, match="kfp_host must be an http"):
        call_command("harvest", "kubeflow", "--kfp-host", "ftp://x", "--no-progress")
    with pytest.raises(CommandError, match="needs|set kfp_host"):
        call_command("harvest", "kubeflow", "--no-progress")
    with pytest.raises(CommandError, match="no connector named"):
        call_command("harvest", "connector", "nope")
    ConnectorConfig.objects.create(name="off", kind="kubeflow", settings={"kfp_host": "http://x"}, enabled=False)
    with pytest.raises(CommandError, match="disabled"):
        call_command("harvest", "connector", "off")
    assert Harvest.objects.count() == 1


def test_load_demo_twice_is_one_history(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    first = demo.load_demo()
    assert first["status"] == "succeeded" and first["counts"]["read"]["runs"] == 5
    nodes = Node.objects.count()
    second = demo.load_demo()
    assert second["status"] == "succeeded"
    assert second["counts"]["nodes_created"] == second["counts"]["nodes_updated"] == 0
    assert Node.objects.count() == nodes
    model = Node.objects.get(kind="model_version", properties__uri=demo.DEMO_MODEL_URI)
    assert model.properties["digest"] == demo.DEMO_MODEL_DIGEST
