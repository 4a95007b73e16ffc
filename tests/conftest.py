"""Shared fixtures: users in every role, API clients, and the path to ../shared/fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from governance.accounts import tokens
from common.roles import ALL_ROLES, ensure_groups

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

# Fixtures every area may use: real Celery workers and gunicorn (tests/support/workers.py), one object
# behind every API URL (tests/support/world.py), real Chromium at 1024x768 (tests/support/browser.py). An area's
# own fixtures are in its conftest.py (tests/kubeflow/, tests/mlflow/). Shared code lives in tests/support/; no
# test module imports another.
pytest_plugins = ["tests.support.workers", "tests.support.world", "tests.support.browser"]


def pytest_configure(config):
    """PBKDF2 at production strength costs seconds per user on this machine; tests need no strength."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Webhooks and e-mail otherwise go out from a background thread, whose connection cannot see a test's transaction;
    # tests/test_approvals_webhook_delivery_off_request.py covers the thread.
    settings.APPROVALS_OUTBOUND_MODE = "inline"


def pytest_collection_modifyitems(config, items):
    """The one implementation of `postgres_only`: such tests (concurrent writers, subprocesses sharing the
    test database, PostgreSQL's own locking) are skipped with the reason on SQLite. A browser test is a slow
    test (`make test-fast` leaves both out)."""
    from django.db import connection

    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://… (make test-postgres)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
        if connection.vendor != "postgresql" and item.get_closest_marker("postgres_only"):
            item.add_marker(skip)


def shared_fixture(*parts: str) -> Path:
    """Path under ../shared/fixtures, or a visible skip when that folder is absent (a fresh clone)."""
    path = SHARED_FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {path} (they live beside the repository, not in it)")
    return path


class IssuedToken:
    """What a test needs of a user's API token: its text (`key`, known only to whoever issued it: the
    database holds a hash) and its row (`pk`, `row`)."""

    def __init__(self, row, key: str):
        self.row, self.key, self.pk = row, key, row.pk


def make_user(username: str, *roles: str, password: str = "pw-" + "x" * 10):
    """A user with `roles` and a default API token, whose text is `user.auth_token.key` on the returned
    instance (a user read again from the database has no such attribute: the text is not stored)."""
    ensure_groups()
    user = get_user_model().objects.create_user(username=username, password=password)
    if roles:
        user.groups.add(*Group.objects.filter(name__in=roles))
    user.auth_token = IssuedToken(*tokens.issue(user, "default", is_default=True))
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION="Bearer " + user.auth_token.key)
    return client


@pytest.fixture
def users(db):
    """One user per role plus an outsider with no role."""
    made = {role: make_user(role, role) for role in ALL_ROLES}
    made["outsider"] = make_user("outsider")
    return made


@pytest.fixture
def clients(users):
    made = {name: client_for(user) for name, user in users.items()}
    made["anonymous"] = APIClient()
    return made


def wipe_harvested(*, harvests: bool = True) -> None:
    """Empty the lineage store and the harvest cursors (and, unless `harvests=False`, the Harvest rows)
    between two harvests of one test that must start from nothing."""
    from connectors.models import Harvest, HarvestCursor
    from lineage.models import Edge, Node, NodeRevision, RawRecord

    for model in (Edge, NodeRevision, Node, RawRecord, HarvestCursor):
        model.objects.all().delete()
    if harvests:
        Harvest.objects.all().delete()
