"""A `manage.py harvest` process killed mid-harvest (SIGKILL: no chance to clean up; SIGTERM: recorded as a
failure) loses nothing: the next harvest resumes after the last committed page and the store ends identical
to a clean harvest. Needs PostgreSQL: the child process must see the test database."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import harvest, snapshot
from connectors.models import Harvest
from lineage.models import Node
from tests.conftest import wipe_harvested

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"




@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_harvest_process_resumes_to_the_clean_result(transactional_db, tmp_path, sig):
    source = demo.generate(tmp_path / "mlmd.sqlite")
    with FakeKfpServer.serving(source) as server:
        settings = {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "instance": "kill",
                    "api_page_size": 1, "mlmd_page_size": 2}
        harvest(settings)
        expected = snapshot()
        wipe_harvested(harvests=False)
        Harvest.objects.all().delete()

        # Every runs page now takes 0.4 s, so the child is surely mid-harvest when it is killed.
        server.inject(r"/runs$", status=0, delay=0.4, times=1000)
        env = {**os.environ, "DATABASE_URL": _database_url(), "LL_DATA_DIR": str(tmp_path)}
        child = subprocess.Popen(
            [sys.executable, "manage.py", "harvest", "kubeflow", "--kfp-host", server.url, "--mlmd-sqlite",
             str(source.mlmd_path), "--instance", "kill", "--page-size", "1", "--mlmd-page-size", "2", "--no-progress"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Harvest.objects.filter(pages__gte=3).exists():
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        child.send_signal(sig)
        child.wait(timeout=30)
        record = Harvest.objects.get()
        assert record.pages >= 3
        if sig == signal.SIGTERM:
            assert record.status == "failed" and "terminated by signal" in record.error
        else:
            assert record.status == "running"  # killed outright: nothing could record the end
        assert Node.objects.count() < len(expected[0])  # it really stopped half-way

        server.faults.clear()
        resumed = harvest(settings)
    assert resumed.cursor_before["api"]  # it went on from the stored cursor, it did not start over
    if sig == signal.SIGTERM:
        assert resumed.cursor_before == record.cursor_after
    assert snapshot() == expected
