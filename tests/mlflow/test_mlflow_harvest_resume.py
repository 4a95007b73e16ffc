"""A harvest of a real MLflow server stopped half-way — an exception between pages, SIGTERM or SIGKILL of a
`manage.py harvest` process — resumes from its stored cursor and ends identical to a clean harvest."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from connectors.base import run_harvest
from devtools.kubeflow.testing import snapshot
from connectors.mlflow import plugin
from connectors.models import Harvest, HarvestStatus
from lineage.models import Node
from tests.conftest import wipe_harvested
from tests.support.http_proxy import FaultyProxy
from tests.support.mlflow_scenario import client, log_run, register, unique

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


class Killed(BaseException):
    pass


def _scenario(url, runs=8):
    c = client(url)
    exp = c.create_experiment(unique("resume"))
    name = unique("resume-model")
    for i in range(runs):
        rid, model_id = log_run(c, exp, name=f"run-{i}", losses=(1.0, 0.5 - i / 100),
                                dataset=("train", f"digest-{i % 3}", f"s3://lake/train-{i % 3}.parquet"))
        if i % 2 == 0:
            register(c, name, rid, model_id)
    c.set_registered_model_alias(name, "champion", "1")


def _connector(url, **kwargs):
    return plugin.build({"tracking_uri": url, "instance": "resume", "batch": 2, "retry_base_delay": 0.01}, {}, **kwargs)


def test_interrupted_between_pages_resumes_to_the_clean_result(mlflow_server):
    _scenario(mlflow_server.url)
    run_harvest(_connector(mlflow_server.url))
    expected = snapshot()
    wipe_harvested()

    pages = []

    def stop_at_four(page):
        pages.append(page)
        if len(pages) == 4:
            raise Killed()

    with pytest.raises(Killed):
        run_harvest(_connector(mlflow_server.url, page_hook=stop_at_four))
    failed = Harvest.objects.get()
    assert failed.status == HarvestStatus.FAILED and failed.error == "Killed" and failed.pages == 3
    assert 0 < Node.objects.count() < len(expected[0])  # it really stopped half-way

    resumed = run_harvest(_connector(mlflow_server.url))
    assert resumed.status == HarvestStatus.SUCCEEDED
    assert resumed.cursor_before == failed.cursor_after and resumed.cursor_before["runs"]
    assert snapshot() == expected


@pytest.mark.postgres_only
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_harvest_process_resumes_to_the_clean_result(mlflow_server, tmp_path, sig, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the child process needs a database it can share with the test: run with DATABASE_URL=postgres://…")
    _scenario(mlflow_server.url, runs=6)
    with FaultyProxy(mlflow_server.url) as proxy:
        args = ["harvest", "mlflow", "--tracking-uri", proxy.url, "--instance", "resume", "--no-progress"]
        call_command(*args, stdout=io.StringIO())
        expected = snapshot()
        wipe_harvested()

        # Every metric history read now takes 0.3 s, so the child is surely mid-harvest when it is killed.
        proxy.inject(r"metrics/get-history", delay=0.3, times=100000)
        s = connection.settings_dict
        env = {**os.environ, "LL_DATA_DIR": str(tmp_path),
               "DATABASE_URL": f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}
        child = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not Harvest.objects.filter(pages__gte=2).exists():
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        child.send_signal(sig)
        child.wait(timeout=60)
        record = Harvest.objects.get()
        if sig == signal.SIGTERM:
            assert record.status == "failed" and "terminated by signal" in record.error
        else:
            assert record.status == "running"  # killed outright: nothing could record the end
        # Killed before the end: the harvest never succeeded (whether its last pages had already written every
        # node depends on the machine's speed; what must hold is that the resumed harvest ends identical).
        assert not Harvest.objects.filter(status="succeeded").exists()
        assert Node.objects.count() <= len(expected[0])
        proxy.faults.clear()
        if sig == signal.SIGKILL:
            # Killed outright, it still holds the source's lock; past HARVEST_LOCK_TTL the next harvest
            # closes it as abandoned and goes on.
            settings.HARVEST_LOCK_TTL = 0
        call_command(*args, stdout=io.StringIO())
        record.refresh_from_db()
        assert record.status == "failed"
    resumed = Harvest.objects.order_by("-pk").first()
    assert resumed.status == "succeeded" and resumed.cursor_before.get("runs")
    assert snapshot() == expected
