"""Anonymous callers reach only the health endpoint; every response carries a request id."""
import pytest
from django.core.management import call_command

from governance.audit.models import AuditEntry


@pytest.mark.django_db
def test_health_is_public_and_names_the_database(client):
    response = client.get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    assert client.get("/api/health/", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    replaced = client.get("/api/health/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert replaced != "bad id with spaces" and len(replaced) == 32


@pytest.mark.django_db
def test_anonymous_gets_401_on_the_schema(client):
    assert client.get("/api/schema/").status_code == 401


@pytest.mark.django_db
def test_create_user_prints_a_working_token_last(capsys, client):
    call_command("create_user", "erin", "--role", "engineer")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(token) == 40
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert "user.create" in actions and "token.create" in actions and "user.roles.add" in actions


@pytest.mark.django_db
def test_create_user_rejects_an_unknown_role():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_user", "mallory", "--role", "superhero")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_both_token_keywords_authenticate(client, keyword, capsys):
    call_command("create_user", "tina", "--role", "engineer")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"{keyword} {key}").status_code == 200
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"{keyword} wrong{key[5:]}").status_code == 401
