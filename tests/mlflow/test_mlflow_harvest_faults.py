"""A real MLflow server behind a proxy that answers some requests with errors: 429 and 5xx are retried
and the harvest succeeds; a refused token fails the harvest with a clear, recorded error; one run whose
metric history answers 404/403 is skipped with a warning (harvest "partial") and read again next time."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from connectors.models import ConnectorConfig, Harvest, HarvestStatus
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.support.http_proxy import FaultyProxy
from tests.support.mlflow_scenario import client, log_run, unique

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _configured(url, name="mlflow-test") -> ConnectorConfig:
    config = ConnectorConfig(name=name, kind="mlflow", settings={"tracking_uri": url, "retry_base_delay": 0.01,
                                                                 "retry_max_delay": 0.05, "retry_attempts": 4})
    config.set_secrets({})
    config.save()
    return config


def _harvest(name="mlflow-test"):
    call_command("harvest", name, "--no-progress", stdout=io.StringIO())
    return Harvest.objects.order_by("-pk").first()


def test_429_and_5xx_are_retried(mlflow_server):
    c = client(mlflow_server.url)
    rid, _ = log_run(c, c.create_experiment(unique("retry")), name="r", model=False)
    with FaultyProxy(mlflow_server.url) as proxy:
        _configured(proxy.url)
        proxy.inject(r"runs/search", status=429, times=2)
        proxy.inject(r"experiments/search", status=503, times=1)
        proxy.inject(r"metrics/get-history", status=502, times=1)
        h = _harvest()
    assert h.status == HarvestStatus.SUCCEEDED, h.error
    assert [s for _, s in proxy.seen if s != 200] == [503, 429, 429, 502]
    assert Node.objects.filter(source="mlflow", kind="run", source_id__endswith=f"/run/{rid}").exists()


def test_a_source_that_stays_down_or_refuses_fails_the_harvest_with_a_record(mlflow_server):
    with FaultyProxy(mlflow_server.url) as proxy:
        _configured(proxy.url)
        proxy.inject(r"experiments/search", status=503, times=10)
        with pytest.raises(CommandError, match="failed 4 times"):
            _harvest()
        h = Harvest.objects.get()
        assert h.status == HarvestStatus.FAILED and "RetriesExhausted" in h.error
        proxy.faults.clear()
        proxy.inject(r"experiments/search", status=401, times=1)
        with pytest.raises(CommandError, match="HarvestError"):
            _harvest()
        assert [s for _, s in proxy.seen if s != 200][-1] == 401  # not retried
    failed = Harvest.objects.order_by("-pk").first()
    assert failed.status == HarvestStatus.FAILED and "refused the credentials" in failed.error
    assert AuditEntry.objects.filter(action="harvest.failed", object_id=str(failed.pk)).exists()


@pytest.mark.parametrize("status", [404, 403])
def test_one_unreadable_run_is_a_warning_and_is_read_next_time(mlflow_server, status):
    c = client(mlflow_server.url)
    exp = c.create_experiment(unique("partial"))
    bad, _ = log_run(c, exp, name="vanishing", model=False)
    good, _ = log_run(c, exp, name="fine", model=False)
    with FaultyProxy(mlflow_server.url) as proxy:
        _configured(proxy.url)
        proxy.inject(rf"metrics/get-history.*run_id={bad}", status=status, times=1)
        h = _harvest()
        assert h.status == HarvestStatus.PARTIAL
        assert h.warnings == [{"object": f"run {bad}", "reason": h.warnings[0]["reason"]}]
        assert str(status) in h.warnings[0]["reason"] or "PERMISSION" in h.warnings[0]["reason"] \
            or "RESOURCE_DOES_NOT_EXIST" in h.warnings[0]["reason"]
        assert h.counts["warnings"] == 1
        runs = Node.objects.filter(source="mlflow", kind="run")
        assert runs.filter(source_id__endswith=f"/run/{good}").exists()
        assert not runs.filter(source_id__endswith=f"/run/{bad}").exists()
        entry = AuditEntry.objects.get(action="harvest.partial", object_id=str(h.pk))
        assert entry.after["warnings"] == h.warnings

        again = _harvest()
    assert again.status == HarvestStatus.SUCCEEDED and again.warnings == []
    assert again.counts["read"]["runs_changed"] == 1  # only the skipped one
    assert runs.filter(source_id__endswith=f"/run/{bad}").exists()


def test_the_token_goes_to_the_server_and_nowhere_else(mlflow_server, monkeypatch):
    import os

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    with FaultyProxy(mlflow_server.url) as proxy:
        config = _configured(proxy.url)
        config.set_secrets({"token": "tkn-s3cret"})
        config.save()
        h = _harvest()
    assert h.status == HarvestStatus.SUCCEEDED
    assert proxy.authorizations and set(proxy.authorizations) == {"Bearer tkn-s3cret"}
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ  # set for our calls only
    assert "tkn-s3cret" not in str(AuditEntry.objects.filter(action__startswith="harvest").values_list("after", flat=True))
