"""Faults: server errors and timeouts mid-listing are retried; a harvest killed between pages resumes to the
same store a clean harvest gives; bad credentials, a wrong host or an unparseable payload fail clearly."""
import socket

import pytest

from connectors.base import HarvestError
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import harvest, snapshot
from connectors.models import Harvest, HarvestCursor
from connectors.retry import RetriesExhausted
from governance.audit.models import AuditEntry
from lineage.models import Edge, Node, NodeRevision, RawRecord
from tests.support.kubeflow import settings_for

pytestmark = pytest.mark.django_db


def wipe():
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()
    HarvestCursor.objects.all().delete()


def clean_snapshot(server, source):
    wipe()
    assert harvest(settings_for(server, source)).status == "succeeded"
    return snapshot()


def test_5xx_mid_listing_is_retried_and_loses_nothing(server, source):
    expected = clean_snapshot(server, source)
    wipe()
    server.requests.clear()
    # The second and third page requests of runs fail with 503 and 500, then the server recovers.
    faults = [server.inject(r"/runs$", status=503, skip=1, times=1), server.inject(r"/runs$", status=500, skip=1, times=1)]
    result = harvest(settings_for(server, source))
    assert result.status == "succeeded"
    assert [f.times for f in faults] == [0, 0]
    assert snapshot() == expected
    assert sum(1 for r in server.requests if r.startswith("/apis/v2beta1/runs?")) >= 5


def test_timeouts_mid_listing_are_retried(server, source):
    expected = clean_snapshot(server, source)
    wipe()
    slow = [server.inject(r"/pipelines$", delay=1.5, status=200, skip=0, times=1),
            server.inject(r"/runs$", delay=1.5, status=200, skip=2, times=1)]
    result = harvest(settings_for(server, source, timeout=0.4))
    assert result.status == "succeeded"
    assert [f.times for f in slow] == [0, 0]  # both stalls happened and were outlasted by a retry
    assert snapshot() == expected


def test_persistent_5xx_fails_the_harvest_with_the_cause(server, source):
    server.inject(r"/runs$", status=503, times=100)
    with pytest.raises(RetriesExhausted):
        harvest(settings_for(server, source))
    record = Harvest.objects.get()
    assert record.status == "failed"
    assert "list runs" in record.error and "503" in record.error
    assert record.finished_at is not None
    assert AuditEntry.objects.filter(action="harvest.failed", object_id=str(record.pk)).exists()


@pytest.mark.parametrize("kill_after", [1, 3, 7, 12])
def test_harvest_killed_between_pages_resumes_to_the_clean_result(server, source, kill_after):
    expected = clean_snapshot(server, source)
    wipe()
    seen = []

    class Killed(Exception):
        pass

    def hook(page):
        seen.append(page)
        if len(seen) == kill_after:
            raise Killed(f"killed before page {kill_after} was stored")

    with pytest.raises(Killed):
        harvest(settings_for(server, source), page_hook=hook)
    interrupted = Harvest.objects.order_by("-pk").first()
    assert interrupted.status == "failed" and interrupted.pages == kill_after - 1
    partial = Node.objects.count()
    resumed = harvest(settings_for(server, source))
    assert resumed.status == "succeeded"
    assert resumed.cursor_before == interrupted.cursor_after  # it went on from the last stored page
    assert Node.objects.count() >= partial
    assert snapshot() == expected
    # No duplicates: one open edge per (src, dst, kind), one node per key (the database enforces both).
    assert Edge.objects.filter(valid_to__isnull=True).count() == len(expected[1])


def test_bad_credentials_fail_clearly_and_write_nothing(source):
    with FakeKfpServer.serving(source, token="right-token") as server:
        with pytest.raises(HarvestError, match="refused our credentials"):
            harvest({"kfp_host": server.url, "instance": "test"}, {"kfp_token": "wrong-token"})
        assert Harvest.objects.get().status == "failed"
        assert Node.objects.count() == 0
        # and the right token works
        assert harvest({"kfp_host": server.url, "instance": "test"}, {"kfp_token": "right-token"}).status == "succeeded"


def test_wrong_host_fails_with_a_failed_record():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(RetriesExhausted, match="healthz"):
        harvest({"kfp_host": f"http://127.0.0.1:{port}", "instance": "test"})
    record = Harvest.objects.get()
    assert record.status == "failed" and f"127.0.0.1:{port}" in record.error
    assert Node.objects.count() == 0


def test_wrong_path_is_not_a_kfp_api(server):
    with pytest.raises(HarvestError, match="no KFP v2beta1 API"):
        harvest({"kfp_host": server.url + "/not-kfp", "instance": "test"})


def test_unparseable_payload_fails_clearly(server, source):
    server.inject(r"/runs$", garbage=True, times=1)
    with pytest.raises(HarvestError, match="not JSON"):
        harvest(settings_for(server, source))
    record = Harvest.objects.get()
    assert record.status == "failed" and "not JSON" in record.error


def test_missing_mlmd_store_fails_clearly(tmp_path):
    with pytest.raises(HarvestError, match="cannot open ML Metadata"):
        harvest({"mlmd_sqlite": str(tmp_path / "absent.sqlite"), "instance": "test"})
    assert Harvest.objects.get().status == "failed"


def test_a_run_without_id_is_an_unparseable_payload(server, source):
    server.state.runs.append({"display_name": "no id", "created_at": "2030-01-01T00:00:00Z", "state": "SUCCEEDED"})
    with pytest.raises(ValueError, match="run without run_id"):
        harvest(settings_for(server, source))
    record = Harvest.objects.get()
    assert record.status == "failed" and "PayloadError" in record.error


def test_a_timestamp_the_sdk_cannot_parse_fails_clearly(server, source):
    server.state.runs.append(dict(source.runs[0], run_id="bad-time", created_at="2030-01-01T00:00:00Z",
                                  finished_at="the day after tomorrow"))
    with pytest.raises(HarvestError, match="cannot parse"):
        harvest(settings_for(server, source))
    assert "the day after tomorrow" in Harvest.objects.get().error
