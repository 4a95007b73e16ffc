"""The API, `manage.py harvest`, a beat schedule and the dashboard's "Harvest now" all start a harvest through
connectors.service: the same actor (`harvester:<kind>` on behalf of the requester), the same lock, the same
partitions (the plugin's hooks), the same after-harvest hooks, and the same dispatch to the broker when one
is configured. Exercised with a test-only plugin (tests/support/dummy_connector.py), so what is checked is
the shared code, not one connector."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from connectors import registry, tasks
from connectors.models import ConnectorConfig, Harvest
from devtools.dashboard import DashCaller
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.support import dummy_connector

pytestmark = pytest.mark.django_db
NAME = "dummy-1"
ITEMS = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def plugin(monkeypatch):
    monkeypatch.setitem(registry.PLUGINS, "dummy", "tests.support.dummy_connector")
    dummy_connector.EMITTED.clear()


@pytest.fixture
def config(db):
    return ConnectorConfig.objects.create(name=NAME, kind="dummy", settings={"items": ITEMS, "emit_openlineage": True})


def _dashboard(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return json.dumps(DashCaller(client).call_json("conn-result.children",
                                                   {"conn-harvest.n_clicks": 1, "conn-pick.value": NAME}))


def via_api(clients, users):
    assert clients["admin"].post(f"/api/connectors/{NAME}/harvest/").status_code == 201
    return "admin"


def via_command(clients, users):
    call_command("harvest", NAME, "--no-progress", "--actor", "ops-oncall", stdout=io.StringIO())
    return "ops-oncall"


def via_beat(clients, users):
    # What beat enqueues: the `connectors.harvest` task with the connector's name (set_schedule's args).
    tasks.harvest_task.delay(NAME)
    return "scheduler"


def via_dashboard(clients, users):
    assert "conn-done" in _dashboard(users["admin"])
    return "admin"


ENTRY_POINTS = [via_api, via_command, via_beat, via_dashboard]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_each_entry_point_harvests_the_same_way(clients, users, config, entry):
    requester = entry(clients, users)
    harvest = Harvest.objects.get()
    assert harvest.status == "succeeded" and harvest.actor == "harvester:dummy" and harvest.connector == config
    parts = harvest.counts["partitions"]
    assert parts["total"] == 1 + len(ITEMS) and parts["done"] == list(range(1 + len(ITEMS)))  # the plugin's plan
    assert harvest.counts["read"] == {"items": len(ITEMS)}
    assert set(Node.objects.filter(source="dummy").values_list("name", flat=True)) == set(ITEMS)
    assert harvest.cursor_after == {"done": ITEMS}  # the plugin's finish_cursor, after the last partition
    assert dummy_connector.EMITTED == [harvest.pk]  # the after-harvest hook, however it was started
    assert harvest.counts["after"]["openlineage"] == {"sent": len(ITEMS)}
    entry = AuditEntry.objects.get(action="harvest.succeeded", object_id=str(harvest.pk))
    assert entry.after["requested_by"] == requester


def _refused_by_api(clients, users):
    r = clients["admin"].post(f"/api/connectors/{NAME}/harvest/")
    assert r.status_code == 409 and r.json()["error"] == "already_running"


def _refused_by_command(clients, users):
    with pytest.raises(CommandError, match="already being harvested"):
        call_command("harvest", NAME, "--no-progress", stdout=io.StringIO())


def _refused_by_beat(clients, users):
    assert tasks.harvest_task.delay(NAME).get()["status"] == "already_running"


def _refused_by_dashboard(clients, users):
    text = _dashboard(users["admin"])
    assert "conn-failed" in text and "already being harvested" in text


@pytest.mark.parametrize("refused", [_refused_by_api, _refused_by_command, _refused_by_beat, _refused_by_dashboard])
def test_each_entry_point_honours_the_same_lock(clients, users, config, refused):
    running = tasks.claim(config, {"username": "someone"}).harvest
    refused(clients, users)
    assert list(Harvest.objects.values_list("pk", flat=True)) == [running.pk]
    assert AuditEntry.objects.filter(action="harvest.refused", object_id=str(config.pk)).count() == 1
    assert not Node.objects.filter(source="dummy").exists()


@pytest.fixture
def broker(monkeypatch):
    """A configured broker, with what would travel through it captured instead of sent."""
    import governance.celery

    sent = {"start": [], "partitions": []}
    monkeypatch.setattr(governance.celery, "broker_configured", lambda: True)
    monkeypatch.setattr(tasks.harvest_task, "apply_async",
                        lambda args, task_id=None, **kw: sent["start"].append((args, task_id)) or _Result(task_id))
    monkeypatch.setattr(tasks.harvest_partition_task, "delay",
                        lambda *args: sent["partitions"].append(args))
    return sent


class _Result:
    def __init__(self, task_id):
        self.id = task_id


@pytest.mark.parametrize("entry", ["api", "command", "dashboard", "beat"])
def test_with_a_broker_every_entry_point_dispatches_to_the_workers(clients, users, config, broker, entry):
    if entry == "api":
        r = clients["admin"].post(f"/api/connectors/{NAME}/harvest/")
        assert r.status_code == 202 and r.json()["status"] == "queued"
    elif entry == "command":
        out = io.StringIO()
        call_command("harvest", NAME, "--enqueue", "--no-progress", "--actor", "ops", stdout=out)
        assert "queued as task" in out.getvalue()
    elif entry == "dashboard":
        assert "queued for the workers" in _dashboard(users["admin"])
    if entry == "beat":
        tasks.start(NAME)  # a beat tick runs the start task on a worker
    else:
        # The start task was queued with the claimed harvest; a worker runs it.
        [(args, task_id)] = broker["start"]
        assert task_id and args[0] == NAME and args[1]["service"] == "harvester:dummy"
        tasks.start(*args)
    harvest = Harvest.objects.get()
    assert harvest.status == "running" and harvest.actor == "harvester:dummy"
    # The plan's partitions went to the broker, nothing was harvested in this process.
    assert sorted(spec["index"] for _, spec, _ in broker["partitions"]) == list(range(1 + len(ITEMS)))
    assert all(ctx["service"] == "harvester:dummy" for _, _, ctx in broker["partitions"])
    assert not Node.objects.filter(source="dummy").exists()
    # The workers run them (any order): the harvest completes with the after-harvest hooks.
    for args in reversed(broker["partitions"]):
        tasks.run_partition(*args)
    harvest.refresh_from_db()
    assert harvest.status == "succeeded" and dummy_connector.EMITTED == [harvest.pk]


def test_an_ad_hoc_command_harvest_takes_the_source_lock_and_the_same_path(config):
    call_command("harvest", "dummy", "--no-progress", "--actor", "ops", stdout=io.StringIO())
    harvest = Harvest.objects.get()
    assert harvest.connector is None and harvest.actor == "harvester:dummy" and harvest.status == "succeeded"
    assert harvest.counts["partitions"]["total"] == 3  # from_options lists a and b: the rest + 2 partitions
    assert AuditEntry.objects.get(action="harvest.succeeded").after["requested_by"] == "ops"
    from connectors.service import HarvestRefused, start_harvest

    held = tasks.claim(None, {"username": "x"}, connector=dummy_connector.from_options({})).harvest
    with pytest.raises(HarvestRefused, match=f"harvest {held.pk}"):
        start_harvest(dummy_connector.from_options({}), requester="ops")
    assert AuditEntry.objects.filter(action="harvest.refused", object_id="dummy:local").count() == 1


def test_shared_harvest_code_has_no_branch_on_a_connector_kind():
    """Adding a connector must not need an edit of the shared harvest code."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    shared = ["connectors/base.py", "connectors/tasks.py", "connectors/service.py", "connectors/stitching.py",
              "connectors/models.py", "connectors/api/views.py", "connectors/api/serializers.py",
              "connectors/management/commands/harvest.py", "dashboard/pages/connectors.py", "lineage/stitching.py"]
    kinds = "|".join(sorted(registry.PLUGINS))
    for path in shared:
        code = "\n".join(line for line in (root / path).read_text().splitlines() if not line.lstrip().startswith("#"))
        code = re.sub(r'"""[\s\S]*?"""', "", code)
        # A comparison of a kind with anything but the store's own kind enums (NodeKind, EdgeKind) is a branch on
        # a connector kind.
        for match in re.finditer(r"kind\s*[!=]=\s*([\w.\"']+)", code):
            assert match.group(1).startswith(("NodeKind.", "EdgeKind.")), f"{path} branches on a connector kind"
        assert not re.search(rf"""["']({kinds})["']""", code), f"{path} names a connector kind"
        assert not re.search(rf"connectors\.({kinds})\b", code), f"{path} imports a connector package"
