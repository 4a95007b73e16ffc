"""Per-connector harvest schedules over the connector API: stored as the django-celery-beat PeriodicTask
that beat runs (so admin and API edit the same thing), validated (a bad crontab is a 400 that changes
nothing), audited with the connector, kept in step with the connector's name, enabled flag and deletion."""
import json

import pytest
from django_celery_beat.models import PeriodicTask

from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/api/connectors/"
BODY = {"name": "kfp-nightly", "kind": "kubeflow", "settings": {"kfp_host": "http://kfp.example:8888"}}


def _task(name="kfp-nightly"):
    return PeriodicTask.objects.select_related("crontab").get(name=f"harvest:{name}")


def test_a_schedule_set_on_create_is_the_beat_entry_and_is_audited(clients):
    response = clients["admin"].post(URL, {**BODY, "schedule": "15  2 * * *"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["schedule"] == "15 2 * * *"
    task = _task()
    assert task.task == "connectors.harvest" and json.loads(task.args) == ["kfp-nightly"] and task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("15", "2", "*")
    assert AuditEntry.objects.get(action="connector.create").after["schedule"] == "15 2 * * *"
    assert clients["admin"].get(URL + "kfp-nightly/").json()["schedule"] == "15 2 * * *"


def test_changing_and_removing_the_schedule(clients):
    clients["admin"].post(URL, BODY, format="json")
    assert clients["admin"].get(URL + "kfp-nightly/").json()["schedule"] is None
    assert not PeriodicTask.objects.filter(name="harvest:kfp-nightly").exists()
    r = clients["admin"].patch(URL + "kfp-nightly/", {"schedule": "*/30 * * * *"}, format="json")
    assert r.status_code == 200 and r.json()["schedule"] == "*/30 * * * *"
    assert _task().crontab.minute == "*/30"
    entry = AuditEntry.objects.filter(action="connector.update").order_by("-seq").first()
    assert entry.before["schedule"] is None and entry.after["schedule"] == "*/30 * * * *"
    # Other edits keep the schedule; disabling the connector disables its beat entry.
    r = clients["admin"].patch(URL + "kfp-nightly/", {"enabled": False}, format="json")
    assert r.json()["schedule"] == "*/30 * * * *" and _task().enabled is False
    r = clients["admin"].patch(URL + "kfp-nightly/", {"schedule": None}, format="json")
    assert r.status_code == 200 and r.json()["schedule"] is None
    assert not PeriodicTask.objects.filter(name="harvest:kfp-nightly").exists()
    entry = AuditEntry.objects.filter(action="connector.update").order_by("-seq").first()
    assert entry.before["schedule"] == "*/30 * * * *" and entry.after["schedule"] is None


def test_renaming_moves_and_deleting_removes_the_beat_entry(clients):
    clients["admin"].post(URL, {**BODY, "schedule": "0 * * * *"}, format="json")
    r = clients["admin"].patch(URL + "kfp-nightly/", {"name": "kfp-hourly"}, format="json")
    assert r.status_code == 200, r.content
    assert not PeriodicTask.objects.filter(name="harvest:kfp-nightly").exists()
    assert json.loads(_task("kfp-hourly").args) == ["kfp-hourly"] and _task("kfp-hourly").crontab.minute == "0"
    assert clients["admin"].delete(URL + "kfp-hourly/").status_code == 204
    assert not PeriodicTask.objects.filter(name__startswith="harvest:").exists()
    assert AuditEntry.objects.get(action="connector.delete").before["schedule"] == "0 * * * *"


@pytest.mark.parametrize("bad", ["every hour", "* * * *", "61 * * * *", "* 25 * * *", "* * * * * *", "a b c d e"])
def test_a_bad_schedule_is_a_400_and_changes_nothing(clients, bad):
    clients["admin"].post(URL, {**BODY, "schedule": "0 3 * * *"}, format="json")
    before = AuditEntry.objects.count()
    r = clients["admin"].patch(URL + "kfp-nightly/", {"schedule": bad}, format="json")
    assert r.status_code == 400 and "schedule" in json.dumps(r.json()), r.content
    assert _task().crontab.hour == "3" and AuditEntry.objects.count() == before
    r = clients["admin"].post(URL, {**BODY, "name": "other", "schedule": bad}, format="json")
    assert r.status_code == 400
    assert not PeriodicTask.objects.filter(name="harvest:other").exists()


def test_only_admins_set_schedules(clients):
    clients["admin"].post(URL, BODY, format="json")
    for who, code in [("engineer", 403), ("auditor", 403), ("approver", 403), ("outsider", 403), ("anonymous", 401)]:
        assert clients[who].patch(URL + "kfp-nightly/", {"schedule": "* * * * *"}, format="json").status_code == code
    assert not PeriodicTask.objects.filter(name__startswith="harvest:").exists()
