"""Background jobs record the actor and request id of whoever started them."""
import json
import threading

import pytest

from common.audit import context
from governance.audit import recorder
from governance.audit.models import AuditEntry


@pytest.mark.django_db(transaction=True)
def test_a_thread_acts_as_the_request_that_started_it():
    started_by = context.AuditContext(user_id=7, username="erin", request_id="req-123", client_ip="10.0.0.5")
    with context.acting_as(started_by):
        # What a view would hand to a Celery task: plain JSON.
        payload = json.loads(json.dumps(context.snapshot()))
    seen = {}

    def job(snapshot):
        from django.db import connections

        try:
            seen["before"] = context.current().username  # a fresh thread knows nobody
            with context.restore(snapshot):
                recorder.record("harvest.run", "connector", 1, after={"pages": 2})
            seen["after"] = context.current().username
        finally:
            connections.close_all()

    worker = threading.Thread(target=job, args=(payload,))
    worker.start()
    worker.join(60)
    entry = AuditEntry.objects.get(action="harvest.run")
    assert (entry.actor_id, entry.actor_username, entry.request_id, entry.client_ip) == (7, "erin", "req-123", "10.0.0.5")
    assert seen == {"before": "system", "after": "system"}


def test_restore_keeps_a_service_actor_and_tolerates_none():
    with context.acting_as(context.AuditContext(service="harvester:kubeflow", username="harvester:kubeflow", request_id="r-9")):
        snap = context.snapshot()
    with context.restore(snap) as ctx:
        assert ctx.service == "harvester:kubeflow" and ctx.request_id == "r-9"
        assert context.current() is ctx
    with context.restore(None) as ctx:
        assert ctx.username == "system" and ctx.request_id
    with context.restore({"username": "x", "unknown": 1}) as ctx:
        assert ctx.username == "x"
