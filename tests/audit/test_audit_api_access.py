"""Only auditors and admins read, verify and export the trail; only admins take checkpoints."""
import pytest

from governance.audit import recorder
from governance.audit.models import AuditCheckpoint, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The `users` fixture hashes a password per user; the default hasher costs seconds on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

READ_URLS = [
    "/api/audit/entries/",
    "/api/audit/verify/",
    "/api/audit/export/?format=jsonl",
    "/api/audit/export/?format=csv",
    "/api/audit/checkpoints/",
]


def test_reading_needs_auditor_or_admin(clients):
    recorder.record("thing.create", "thing", 1)
    for url in READ_URLS:
        assert clients["anonymous"].get(url).status_code == 401, url
        for name in ("engineer", "approver", "outsider"):
            response = clients[name].get(url)
            assert response.status_code == 403, (name, url)
            assert response.json()["error"] == "permission_denied"
        for name in ("auditor", "admin"):
            assert clients[name].get(url).status_code == 200, (name, url)


def test_entry_detail_by_seq(clients):
    entry = recorder.record("thing.create", "thing", 42, after={"x": 1}, reason="because")
    body = clients["auditor"].get(f"/api/audit/entries/{entry.seq}/").json()
    assert body["seq"] == entry.seq and body["hash"] == entry.hash and body["after"] == {"x": 1}
    assert clients["engineer"].get(f"/api/audit/entries/{entry.seq}/").status_code == 403
    assert clients["auditor"].get("/api/audit/entries/999999/").status_code == 404


def test_the_trail_cannot_be_written_through_the_api(clients):
    entry = recorder.record("thing.create", "thing", 1)
    for name in ("auditor", "admin"):
        client = clients[name]
        assert client.post("/api/audit/entries/", {"action": "x"}, format="json").status_code in (403, 405)
        assert client.put(f"/api/audit/entries/{entry.seq}/", {"reason": "x"}, format="json").status_code in (403, 405)
        assert client.delete(f"/api/audit/entries/{entry.seq}/").status_code in (403, 405)
        assert client.delete("/api/audit/checkpoints/1/").status_code in (403, 404, 405)
    assert AuditEntry.objects.get(seq=entry.seq).reason == ""


def test_only_admins_take_checkpoints_and_the_checkpoint_is_audited(clients, users):
    recorder.record("thing.create", "thing", 1)
    for name in ("auditor", "engineer", "approver", "outsider"):
        assert clients[name].post("/api/audit/checkpoints/", {"reason": "x"}, format="json").status_code == 403
    assert clients["anonymous"].post("/api/audit/checkpoints/", {}, format="json").status_code == 401
    assert AuditCheckpoint.objects.count() == 0

    tail = AuditEntry.objects.order_by("-seq").first()
    response = clients["admin"].post(
        "/api/audit/checkpoints/", {"reason": "quarterly review"}, format="json", HTTP_X_REQUEST_ID="req-cp-1"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["seq"] == tail.seq and body["entry_hash"] == tail.hash and body["signature"]
    announcement = AuditEntry.objects.get(seq=tail.seq + 1)
    assert announcement.action == "audit.checkpoint"
    assert announcement.actor_username == "admin" and announcement.actor_id == users["admin"].pk
    assert announcement.request_id == "req-cp-1" and announcement.reason == "quarterly review"
    assert announcement.client_ip == "127.0.0.1"
    assert response["X-Request-ID"] == "req-cp-1"
    assert clients["auditor"].get("/api/audit/checkpoints/").json()["results"][0]["seq"] == tail.seq


def test_checkpoint_bad_input_is_a_400_and_changes_nothing(clients):
    recorder.record("thing.create", "thing", 1)
    response = clients["admin"].post("/api/audit/checkpoints/", {"reason": "x" * 5000}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert AuditCheckpoint.objects.count() == 0


def test_export_bad_parameters_are_a_clear_400(clients):
    recorder.record("thing.create", "thing", 1)
    for query in ("format=xml", "format=csv&seq_min=abc", "seq_min=5&seq_max=2", "seq_min=0"):
        response = clients["auditor"].get(f"/api/audit/export/?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "invalid"
    assert not AuditEntry.objects.filter(action="audit.export").exists()
