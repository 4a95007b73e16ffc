"""A real OpenID provider on 127.0.0.1 for the tests: panva's `oidc-provider` (node), in ./oidc_provider.

Its people and their groups live in a JSON file the provider re-reads at every lookup, so a test moves a
person out of a group at the provider by calling `set_people`. Service accounts are clients with a
`groups` property that the provider puts into their client-credentials access tokens (JWTs for the
audience `API_AUDIENCE`).

`npm ci` runs once when node_modules is missing (the npm registry is reachable wherever the tests run);
without node or npm the tests that need the provider are skipped with the reason.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

HERE = Path(__file__).resolve().parent / "oidc_provider"
API_AUDIENCE = "https://lineage-ledger.test/api"
WEB_CLIENT_ID = "lineage-ledger-web"
WEB_CLIENT_SECRET = "web-client-secret-for-tests"
SERVICE_SECRET = "service-secret-for-tests"
# The IdP groups the tests map to roles (OIDC_ROLE_MAP below).
GROUPS = {"engineer": "ll-engineers", "auditor": "ll-auditors", "approver": "ll-approvers", "admin": "ll-admins"}
ROLE_MAP = ",".join(f"{group}={role}" for role, group in GROUPS.items())
_INSTALL_LOCK = threading.Lock()


def _ensure_installed() -> None:
    with _INSTALL_LOCK:
        if (HERE / "node_modules" / "oidc-provider").is_dir():
            return
        npm, node = shutil.which("npm"), shutil.which("node")
        if not (npm and node):
            pytest.skip("node and npm are needed for the test OpenID provider (apt-get install nodejs npm)")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"npm ci for the test OpenID provider failed: {done.stderr[-500:]}")


class OidcProvider:
    def __init__(self, *, redirect_uris: list[str], service_roles: dict[str, list[str]] | None = None,
                 people: dict[str, dict] | None = None):
        _ensure_installed()
        self._dir = Path(tempfile.mkdtemp(prefix="ll-oidc-"))
        self.people_file = self._dir / "people.json"
        self.set_people(people or {})
        clients = [{
            "client_id": WEB_CLIENT_ID, "client_secret": WEB_CLIENT_SECRET, "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code"], "response_types": ["code"],
        }]
        for client_id, groups in (service_roles or {}).items():
            clients.append({"client_id": client_id, "client_secret": SERVICE_SECRET, "redirect_uris": [],
                            "response_types": [], "grant_types": ["client_credentials"], "groups": groups})
        (self._dir / "clients.json").write_text(json.dumps(clients))
        self.secret_file = self._dir / "client-secret"
        self.secret_file.write_text(WEB_CLIENT_SECRET + "\n")
        env = {**os.environ, "OP_PORT": "0", "OP_USERS_FILE": str(self.people_file),
               "OP_CLIENTS_FILE": str(self._dir / "clients.json"), "OP_API_AUDIENCE": API_AUDIENCE}
        self.process = subprocess.Popen(["node", "server.mjs"], cwd=HERE, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the test OpenID provider did not start: {line!r}")
        self.issuer = line.split()[1]

    def set_people(self, people: dict[str, dict]) -> None:
        """{account id (sub): {"preferred_username": ..., "email": ..., "groups": [...]}}"""
        tmp = self.people_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(people))
        tmp.replace(self.people_file)

    def settings(self, settings) -> None:
        """Point the project (pytest-django's `settings` fixture) at this provider."""
        settings.OIDC_ISSUER = self.issuer
        settings.OIDC_CLIENT_ID = WEB_CLIENT_ID
        settings.OIDC_CLIENT_SECRET_FILE = str(self.secret_file)
        settings.OIDC_SCOPES = "openid profile email groups"
        settings.OIDC_GROUPS_CLAIM = "groups"
        settings.OIDC_USERNAME_CLAIM = "preferred_username"
        settings.OIDC_ROLE_MAP = ROLE_MAP
        settings.OIDC_API_AUDIENCE = API_AUDIENCE
        from governance.accounts.oidc_bearer import JWKS

        JWKS.clear()

    def service_token(self, client_id: str, *, resource: str | None = None) -> str:
        """A client-credentials access token (a JWT) for `client_id`."""
        data = {"grant_type": "client_credentials"}
        if resource:
            data["resource"] = resource
        answer = requests.post(self.issuer + "/token", data=data, auth=(client_id, SERVICE_SECRET), timeout=10)
        answer.raise_for_status()
        return answer.json()["access_token"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


class _Form(HTMLParser):
    """The provider's sign-in form: its action and inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def sign_in_without_browser(django_client, provider: OidcProvider, account: str, next_path: str = "/dashboard/"):
    """The authorization code flow as a browser would walk it, with Django's test client as the relying
    party's side and requests on the provider's side; the response of the project's callback view."""
    start = django_client.get("/accounts/oidc/login/", {"next": next_path})
    assert start.status_code == 302, start.content[:300]
    url = start["Location"]
    session = requests.Session()
    for _ in range(12):
        if not url.startswith(provider.issuer):
            parts = urlsplit(url)
            return django_client.get(parts.path + ("?" + parts.query if parts.query else ""))
        answer = session.get(url, allow_redirects=False, timeout=10)
        if answer.status_code in (302, 303):
            url = urljoin(url, answer.headers["Location"])
            continue
        form = _Form()
        form.feed(answer.text)
        if answer.status_code != 200 or not form.action:
            raise AssertionError(f"unexpected provider page {answer.status_code}: {answer.text[:300]}")
        form.fields.update({"login": account, "password": "any"})
        posted = session.post(urljoin(url, form.action), data=form.fields, allow_redirects=False, timeout=10)
        assert posted.status_code in (302, 303), posted.text[:300]
        url = urljoin(url, posted.headers["Location"])
    raise AssertionError("the sign-in did not come back to the project")


def code_challenge_of(authorize_url: str) -> tuple[str, str]:
    query = dict(re.findall(r"[?&]([^=&]+)=([^&]*)", authorize_url))
    return query.get("code_challenge", ""), query.get("code_challenge_method", "")
