"""No usable token can be read from the database: tokens are stored as SHA-256 hashes (made by every path:
create_user, the API, the token page), the pre-hashing table is migrated and dropped, and the admin site
shows no token."""
from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test import Client

from governance.accounts.tokens import hash_key
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def database_text() -> str:
    """Every row of every table, as text."""
    chunks = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cur.fetchall())
    return "\n".join(chunks)


def test_no_issued_token_is_in_the_database(users):
    out = io.StringIO()
    call_command("create_user", "cli-user", "--role", "engineer", stdout=out)
    from_cli = out.getvalue().strip().splitlines()[-1]
    from_api = client_for(users["engineer"]).post("/api/tokens/", {"name": "api"}, format="json").json()["token"]
    web = Client()
    web.force_login(users["auditor"])
    from_page = web.post("/accounts/tokens/", {"action": "create", "name": "page"}).context["shown_once"]["key"]
    keys = [from_cli, from_api, from_page, users["admin"].auth_token.key]
    for key in keys:
        assert client_for(None).get("/api/nodes/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code in (200, 403)
    text = database_text()
    for key in keys:
        assert hash_key(key) in text  # the scan does read the token table
        secret_part = key[8:]  # what the listing's prefix does not show
        assert key not in text and secret_part not in text and secret_part[:16] not in text


def test_the_admin_site_shows_no_token(users):
    superuser = make_user("root")
    superuser.is_superuser = superuser.is_staff = True
    superuser.save()
    admin = Client()
    admin.force_login(superuser)
    index = admin.get("/admin/")
    assert index.status_code == 200
    listed = {model["object_name"].lower() for app in index.context["app_list"] for model in app["models"]}
    assert "user" in listed and not {name for name in listed if "token" in name}
    user_page = admin.get(f"/admin/auth/user/{users['engineer'].pk}/change/")
    assert user_page.status_code == 200 and users["engineer"].auth_token.key.encode() not in user_page.content
    assert admin.get("/admin/authtoken/").status_code == 404
    assert admin.get("/admin/accounts/apitoken/").status_code == 404
    assert admin.get("/admin/accounts/oidcidentity/").status_code == 200  # provider links are managed there


def test_tokens_of_the_old_plain_table_are_hashed_and_the_table_dropped(users, settings):
    """The data migration on a database that still has rest_framework.authtoken's table of plain keys."""
    settings.API_TOKEN_DEFAULT_DAYS = 30
    migration = importlib.import_module("governance.accounts.migrations.0003_hash_existing_tokens")
    legacy_key = "0123456789abcdef0123456789abcdef01234567"
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE authtoken_token ({qn('key')} varchar(40) PRIMARY KEY, created timestamp NOT NULL, "
                    "user_id integer NOT NULL)")
        cur.execute(f"INSERT INTO authtoken_token ({qn('key')}, created, user_id) VALUES (%s, %s, %s)",
                    [legacy_key, "2025-01-02 03:04:05", users["approver"].pk])

    class Editor:
        connection = connection

        @staticmethod
        def execute(sql):
            with connection.cursor() as cur:
                cur.execute(sql)

    migration.hash_old_tokens(apps, Editor())
    assert "authtoken_token" not in connection.introspection.table_names()
    assert legacy_key not in database_text()
    answer = client_for(None).get("/api/promotion-requests/", HTTP_AUTHORIZATION=f"Token {legacy_key}")
    assert answer.status_code == 200  # the approver's old token keeps working, now with an expiry
    migrated = users["approver"].api_tokens.get(name="default (migrated)")
    assert migrated.is_default and migrated.expires_at is not None and migrated.created_at.year == 2025
