"""One malformed KFP run does not sink a Kubeflow harvest: it is a warning on a "partial" harvest, the other
runs land, and it is read again by the next harvest (kept with the open runs) once KFP answers it well.
(The runs listing itself answering garbage is the source's failure, not one object's: that still fails.)"""
from __future__ import annotations

import pytest

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import FAST_RETRY
from connectors.models import ConnectorConfig
from connectors.service import start_harvest
from lineage.models import Node

pytestmark = pytest.mark.django_db


def test_a_malformed_run_is_skipped_with_a_warning_and_read_next_time(tmp_path, settings):
    settings.HARVEST_PARTITION_RUNS = 2
    source = demo.generate(tmp_path / "mlmd.sqlite")
    with FakeKfpServer.serving(source) as server:
        config = ConnectorConfig.objects.create(name="kfp", kind="kubeflow",
                                                settings={"kfp_host": server.url, "instance": "kfp", **FAST_RETRY})
        bad = server.state.runs[1]
        served_run, broken = server.state.run, [True]

        def run(run_id):  # KFP answers this one run's GET with a record its own SDK cannot parse
            found = served_run(run_id)
            return {**found, "finished_at": "the day after tomorrow"} if run_id == bad["run_id"] and broken else found

        server.state.run = run
        first = start_harvest(config, requester="ops").harvest
        assert first.status == "partial"
        assert [w["object"] for w in first.warnings] == [f"run {bad['run_id']}"]
        assert "cannot parse" in first.warnings[0]["reason"]
        runs = Node.objects.filter(source="kubeflow", kind="run", properties__kfp_kind="run")
        assert runs.count() == len(source.runs) - 1
        assert bad["run_id"] in first.cursor_after["api"]["open_runs"]

        broken.clear()

        second = start_harvest(config, requester="ops").harvest
    assert second.status == "succeeded" and second.warnings == []
    assert runs.count() == len(source.runs)
    assert Node.objects.get(source="kubeflow", source_id=f"kfp/run/{bad['run_id']}").properties["run_id"] == bad["run_id"]
