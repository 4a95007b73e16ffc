"""`manage.py harvest viya ...` ad hoc (token, password grant, client credentials) and `harvest <name>`
from an encrypted ConnectorConfig; settings validated with clear messages; secrets never stored in plain
text, never in the harvest record, the audit trail or the logs."""
from __future__ import annotations

import json
import logging

import pytest
from django.core.management import CommandError, call_command

from connectors.models import ConnectorConfig, Harvest, HarvestStatus
from connectors.viya import plugin
from devtools.viya.fake_server import FakeViya
from devtools.viya.fake_state import ViyaState
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.conftest import shared_fixture

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "s3cret-viya-password"
CLIENT_SECRET = "s3cret-client-secret"


@pytest.fixture
def fake():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state, users={"viya-user": PASSWORD}, clients={"sas.cli": "", "ll-harvester": CLIENT_SECRET}) as viya:
        yield viya


def _no_secret_anywhere(caplog, *secrets):
    dumped = json.dumps([list(Harvest.objects.values()), list(AuditEntry.objects.values("before", "after", "reason")),
                         list(ConnectorConfig.objects.values())], default=str)
    for secret in secrets:
        assert secret not in dumped
        assert secret not in caplog.text


@pytest.mark.parametrize("how", ["password", "client", "token"])
def test_ad_hoc_harvest_with_each_way_to_authenticate(fake, tmp_path, how, caplog):
    caplog.set_level(logging.DEBUG)
    args = ["harvest", "viya", "--url", fake.url, "--no-progress"]
    if how == "password":
        (tmp_path / "pw").write_text(PASSWORD + "\n")
        args += ["--username", "viya-user", "--password-file", str(tmp_path / "pw")]
    elif how == "client":
        (tmp_path / "cs").write_text(CLIENT_SECRET)
        args += ["--client-id", "ll-harvester", "--client-secret-file", str(tmp_path / "cs")]
    else:
        token = fake.issue_token()
        args += [f"--token={token}"]  # one argument: a random token may start with "-"
    call_command(*args)
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.SUCCEEDED and harvest.kind == "viya"
    assert Node.objects.filter(source="viya", kind="model").count() == len(fake.state.items("model"))
    grant = {"password": "grant_type=password", "client": "grant_type=client_credentials", "token": None}[how]
    token_calls = fake.calls_to("POST", "/SASLogon/oauth/token")
    assert [grant in c.body.decode() for c in token_calls] == ([True] if grant else [])
    _no_secret_anywhere(caplog, PASSWORD, CLIENT_SECRET)


def test_configured_connector_keeps_secrets_encrypted(fake, caplog):
    caplog.set_level(logging.DEBUG)
    config = ConnectorConfig(name="viya-prod", kind="viya", settings={"url": fake.url, "username": "viya-user"})
    config.set_secrets({"password": PASSWORD})
    config.save()
    assert PASSWORD not in ConnectorConfig.objects.get().encrypted_secrets
    call_command("harvest", "viya-prod", "--no-progress")
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.SUCCEEDED and harvest.connector == config
    client = plugin.from_config(config).client
    assert PASSWORD not in repr(client) + repr(client.auth)
    _no_secret_anywhere(caplog, PASSWORD)


def test_wrong_password_leaves_a_failed_harvest(fake, tmp_path, caplog):
    (tmp_path / "pw").write_text("not-the-password")
    with pytest.raises(Exception):
        call_command("harvest", "viya", "--url", fake.url, "--username", "viya-user",
                     "--password-file", str(tmp_path / "pw"), "--no-progress")
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.FAILED and "refused the credentials" in harvest.error
    assert "not-the-password" not in harvest.error and "not-the-password" not in caplog.text


def test_expired_static_token_is_a_clear_failure(fake):
    with pytest.raises(Exception):
        call_command("harvest", "viya", "--url", fake.url, "--token", "not-a-token", "--no-progress")
    harvest = Harvest.objects.get()
    assert harvest.status == HarvestStatus.FAILED and "401" in harvest.error


@pytest.mark.parametrize("settings, secrets, message", [
    ({}, {"token": "t"}, "needs url"),
    ({"url": "ftp://viya"}, {"token": "t"}, "needs url"),
    ({"url": "https://viya"}, {}, "exactly one way"),
    ({"url": "https://viya", "username": "u"}, {"token": "t", "password": "p"}, "exactly one way"),
    ({"url": "https://viya", "username": "u"}, {}, "needs a password"),
    ({"url": "https://viya"}, {"password": "p"}, "needs a username"),
    ({"url": "https://viya", "client_id": "c"}, {}, "exactly one way"),
    ({"url": "https://viya", "colour": "blue"}, {"token": "t"}, "unknown Viya settings: colour"),
    ({"url": "https://viya"}, {"token": "t", "pin": "1"}, "unknown Viya secrets: pin"),
    ({"url": "https://viya", "batch": 0}, {"token": "t"}, "batch must be a positive number"),
])
def test_validate_explains_what_is_wrong(settings, secrets, message):
    with pytest.raises(ValueError, match=message):
        plugin.validate(settings, secrets)


def test_bad_command_line_is_a_command_error_and_no_harvest(tmp_path):
    with pytest.raises(CommandError, match="exactly one way"):
        call_command("harvest", "viya", "--url", "https://viya.example", "--no-progress")
    with pytest.raises(CommandError, match="cannot read the password file"):
        call_command("harvest", "viya", "--url", "https://viya.example", "--username", "u",
                     "--password-file", str(tmp_path / "missing"), "--no-progress")
    assert not Harvest.objects.exists()
