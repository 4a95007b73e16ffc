"""`manage.py harvest <connector-name>` honours the connector's harvest lock (a harvest already running is a
clear error that starts nothing), and `--enqueue` says plainly that it needs a broker when there is none."""
import pytest
from django.core.management import CommandError, call_command

from connectors import tasks
from connectors.models import ConnectorConfig, Harvest

pytestmark = pytest.mark.django_db


def test_a_running_harvest_refuses_the_command(capsys):
    config = ConnectorConfig.objects.create(name="kfp-busy", kind="kubeflow", settings={"kfp_host": "http://127.0.0.1:9"})
    running = tasks.claim(config, {"username": "someone"}).harvest
    with pytest.raises(CommandError, match=f"already being harvested \\(harvest {running.pk}\\)"):
        call_command("harvest", "kfp-busy", "--no-progress")
    assert list(Harvest.objects.values_list("pk", "status")) == [(running.pk, "running")]


def test_enqueue_without_a_broker_is_refused_and_starts_nothing(settings):
    settings.CELERY_BROKER_URL = ""
    ConnectorConfig.objects.create(name="kfp-q", kind="kubeflow", settings={"kfp_host": "http://127.0.0.1:9"})
    with pytest.raises(CommandError, match="--enqueue needs a broker"):
        call_command("harvest", "kfp-q", "--enqueue", "--no-progress")
    assert not Harvest.objects.exists()


def test_a_failed_locked_harvest_is_a_command_error_and_frees_the_lock():
    ConnectorConfig.objects.create(name="kfp-down", kind="kubeflow",
                                   settings={"kfp_host": "http://127.0.0.1:9", "retry_attempts": 1})
    for _ in range(2):  # the second run is not refused: the first one ended (failed)
        with pytest.raises(CommandError, match="harvest failed"):
            call_command("harvest", "kfp-down", "--no-progress")
    assert list(Harvest.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "failed"]
