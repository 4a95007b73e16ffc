"""A Viya harvest on a REAL Celery worker process (Redis db 13, a queue of the test's own) killed outright
(SIGKILL of the worker and its pool) in the middle of the harvest, then finished by a new worker: the store
ends identical to a clean harvest, with the killed harvest's lock recovered.

The fake Viya holds one chosen request (the 5th model's versions) until the test has killed the worker, so
the kill always lands mid-harvest: after pages that were committed (with their cursor), before the rest.
Two ways the harvest gets finished, both as connectors/tasks.py documents them:

- redelivered: the partition task was acknowledged late, so the broker hands it to the new worker once its
  visibility timeout passes; the same Harvest resumes from the cursor its last committed page saved.
- lock expired: the task is not redelivered (a long visibility timeout); the dead harvest holds the
  connector's lock until HARVEST_LOCK_TTL, then the next harvest closes it as abandoned and resumes from
  the cursor.

PostgreSQL only: the worker must see the test's database."""
from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

import pytest

from connectors import registry
from connectors import tasks as harvest_tasks
from connectors.base import load_cursor, run_harvest
from devtools.kubeflow.testing import snapshot
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from devtools.viya.fake_server import FakeViya, _Handler
from devtools.viya.fake_state import ViyaState
from common.audit import context
from governance.audit.models import AuditEntry
from lineage.models import Edge, Node, NodeRevision, RawRecord
from tests.support.workers import SECOND_BROKER, send_task, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
NAME = "viya-killed"
MODELS = 8
BATCH = 2  # models per page: 4 pages of models, the 3rd held
HELD = re.compile(r"^/modelRepository/models/[^/]+/modelVersions$")
HELD_NTH = 5
# A partition task of a worker killed outright comes back within seconds (redelivered case only).
SHORT_VISIBILITY = '{"visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'
LOCK_TTL = 4



@pytest.fixture
def broker_url():
    """Redis db 13, away from the celery tests' db 15 (a killed worker leaves unacknowledged tasks there)."""
    return SECOND_BROKER

class _HoldingHandler(_Handler):
    def _handle(self, method):
        fake = self.fake
        if fake.hold_pattern is not None and fake.hold_pattern.match(urlsplit(self.path).path):
            with fake.lock:
                fake.hold_seen += 1
                hold = fake.hold_seen == fake.hold_nth
            if hold:
                fake.held.set()
                fake.released.wait(120)
        super()._handle(method)


class HoldingViya(FakeViya):
    """The fake Viya, holding the n-th request whose path matches until the test releases it."""

    def __init__(self, state: ViyaState):
        super().__init__(state)
        self.hold_pattern, self.hold_nth, self.hold_seen = None, 0, 0
        self.held, self.released = threading.Event(), threading.Event()

    def start(self):
        super().start()
        self.httpd.RequestHandlerClass = type("Handler", (_HoldingHandler,), {"fake": self})
        return self

    def hold(self, pattern: re.Pattern, nth: int) -> None:
        with self.lock:
            self.hold_pattern, self.hold_nth, self.hold_seen = pattern, nth, 0

    def stop(self):
        self.released.set()
        super().stop()


def _state() -> ViyaState:
    state = ViyaState()
    repo = state.add_repository("Public", when="2026-01-01T00:00:00Z")
    projects = [state.add_project(repo, name, when="2026-01-01T00:00:00Z") for name in ("Churn", "Fraud")]
    for n in range(MODELS):
        state.add_model(projects[n % 2], f"model-{n}", versions=2, when="2026-01-02T00:00:00Z")
    return state


def _wipe():
    for model in (Edge, NodeRevision, Node, RawRecord, HarvestCursor, Harvest):
        model.objects.all().delete()


@pytest.mark.parametrize("rerun", ["redelivered", "lock-expired"])
def test_a_viya_harvest_whose_worker_is_killed_ends_identical_to_a_clean_one(transactional_db, monkeypatch,
                                                                             broker_queue, workers, rerun):
    with HoldingViya(_state()) as viya:
        config = ConnectorConfig(name=NAME, kind="viya",
                                 settings={"url": viya.url, "username": "viya-user", "batch": BATCH, "timeout": 120})
        config.set_secrets({"password": "viya-password"})
        config.save()
        with context.acting_as(context.AuditContext(username="t", service="harvester:viya")):
            run_harvest(registry.plugin("viya").from_config(config), config=config)
        expected = snapshot()
        counts = (Node.objects.count(), Edge.objects.count(), RawRecord.objects.count())
        assert len(expected[0]) > MODELS
        _wipe()

        viya.hold(HELD, HELD_NTH)
        options = SHORT_VISIBILITY if rerun == "redelivered" else ""
        victim = workers("victim", transport_options=options)
        send_task(SECOND_BROKER, broker_queue, NAME, {"username": "admin", "request_id": "req-viya-killed"})
        if not viya.held.wait(90):
            pytest.fail("the harvest never reached the held request\n" + victim.output().decode(errors="replace"))
        killed = Harvest.objects.get()
        landed = load_cursor(killed.source_key)
        assert sum(key.startswith("model:") for key in landed["stamps"]) == (HELD_NTH - 1) // BATCH * BATCH
        assert Node.objects.count() < counts[0]  # it really is half-way
        victim.kill_all()
        viya.released.set()
        killed.refresh_from_db()
        assert killed.status == "running"  # killed outright: nothing could record the end

        if rerun == "redelivered":
            replacement = workers("replacement", transport_options=options)
            wait_for(lambda: not Harvest.objects.filter(status="running").exists(), "the redelivered partition",
                  [replacement], timeout=90)
            done = Harvest.objects.get()  # the same harvest, finished by the new worker
            assert done.pk == killed.pk
            assert b"Task connectors.harvest_partition[" in replacement.output()
        else:
            # The dead harvest holds the lock: another start (with the default TTL of hours) is refused.
            with context.acting_as(context.AuditContext(username="t")):
                refused = harvest_tasks.claim(config)
            assert refused.refused and refused.running.pk == killed.pk
            monkeypatch.setenv("HARVEST_LOCK_TTL", str(LOCK_TTL))  # the replacement worker's lock TTL
            replacement = workers("replacement")
            wait_for(lambda: (time.time() - killed.started_at.timestamp()) > LOCK_TTL + 1, "the lock to expire")
            send_task(SECOND_BROKER, broker_queue, NAME, {"username": "admin", "request_id": "req-viya-rerun"})
            wait_for(lambda: Harvest.objects.count() == 2 and not Harvest.objects.filter(status="running").exists(),
                  "the rerun", [replacement], timeout=90)
            killed.refresh_from_db()
            assert killed.status == "failed" and killed.error.startswith("abandoned:"), killed.error
            assert AuditEntry.objects.filter(action="harvest.abandoned", object_id=str(killed.pk)).exists()
            done = Harvest.objects.exclude(pk=killed.pk).get()
            assert done.request_id == "req-viya-rerun"
            assert done.cursor_before == landed  # it resumed from the last committed page, not from scratch
        assert done.status == "succeeded", done.error
        assert snapshot() == expected
        assert (Node.objects.count(), Edge.objects.count(), RawRecord.objects.count()) == counts
