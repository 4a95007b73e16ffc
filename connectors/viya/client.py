"""A small typed client for the Viya REST services the connector reads and writes.

Why our own: sasctl turns one-item collections into single objects and empty ones into lists, rebuilds
paging URLs (it sent malformed ones to /relationships in the recordings) and hides ETags. We need the
envelope, `next` links followed exactly as the server built them, ETags for If-Match, and retries that
tell a flaky network from a wrong password.

Works on Viya 3.5 and 2023.10+ shapes: collections are recognised by `items` (whatever their `name` or
media type), link rels are matched case-insensitively (`UP` occurs), ETags may be weak or strong.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import quote, urljoin, urlsplit

import requests

from connectors.retry import PERMANENT, TRANSIENT, RetryPolicy, call_with_retry
from connectors.viya.errors import (
    ViyaAuthError,
    ViyaConflict,
    ViyaHTTPError,
    ViyaNotFound,
    ViyaPayloadError,
    ViyaTransientError,
)

TOKEN_PATH = "/SASLogon/oauth/token"
COLLECTION = "application/vnd.sas.collection+json"
ERROR = "application/vnd.sas.error+json"
ACCEPT_COLLECTION = f"{COLLECTION}, application/json;q=0.9, */*;q=0.1"
MODEL = "application/vnd.sas.models.model+json"
PROJECT = "application/vnd.sas.models.project+json"
PUBLISH_REQUEST = "application/vnd.sas.models.publishing.request.asynchronous+json"
PUBLISH = "application/vnd.sas.models.publishing.publish+json"
DEFAULT_TIMEOUT = 30.0


# ------------------------------------------------------------------------------------------------ filters
def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def eq(field_name: str, value) -> str:
    """`eq(name,"x")` in Viya's filter language."""
    return f"eq({field_name},{_literal(value)})"


def gt(field_name: str, value) -> str:
    return f"gt({field_name},{_literal(value)})"


def and_(*exprs: str) -> str:
    exprs = [e for e in exprs if e]
    return exprs[0] if len(exprs) == 1 else f"and({','.join(exprs)})"


# ------------------------------------------------------------------------------------------------ ETags
@dataclass(frozen=True)
class ETag:
    """An entity tag as sent: `W/"1724434085705225000"` (Go, weak) or `"m06zkxx7"` (Java, strong)."""

    raw: str

    @property
    def weak(self) -> bool:
        return self.raw.startswith(("W/", "w/"))

    @property
    def opaque(self) -> str:
        text = self.raw[2:] if self.weak else self.raw
        return text.strip().strip('"')

    def matches(self, other: "ETag | str | None") -> bool:
        """Weak comparison (RFC 9110 §8.8.3.2): enough to tell "unchanged" on a conditional GET."""
        if other is None:
            return False
        other = other if isinstance(other, ETag) else ETag(str(other))
        return self.opaque == other.opaque

    def __str__(self) -> str:
        return self.raw


def etag_of(headers) -> ETag | None:
    value = headers.get("ETag") or headers.get("Etag")  # requests' headers are case-insensitive anyway
    return ETag(value) if value else None


@dataclass
class Resource:
    body: object
    etag: ETag | None = None
    last_modified: str | None = None
    status: int = 200
    content_type: str = ""
    headers: dict = field(default_factory=dict)


def link(body: dict, rel: str) -> dict | None:
    """The first link with this rel (case-insensitive: Viya spells `up` as `UP` in places)."""
    if not isinstance(body, dict):
        return None
    want = rel.lower()
    for item in body.get("links") or []:
        if isinstance(item, dict) and str(item.get("rel", "")).lower() == want:
            return item
    return None


def href(body: dict, rel: str) -> str | None:
    found = link(body, rel)
    return (found.get("href") or found.get("uri")) if found else None


# ------------------------------------------------------------------------------------------------ auth
class Auth:
    """How the client obtains a bearer token. Secrets stay inside these objects and out of reprs/logs."""

    renewable = True

    def fetch(self, client: "ViyaClient") -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class TokenAuth(Auth):
    renewable = False

    def __init__(self, token: str):
        if not token:
            raise ViyaAuthError("an empty bearer token was given")
        self._token = token

    def fetch(self, client):
        return self._token


class _GrantAuth(Auth):
    def _grant(self, client: "ViyaClient", data: dict, client_id: str, client_secret: str) -> str:
        def once():
            try:
                resp = client.session.post(
                    client.url(TOKEN_PATH), data=data, auth=(client_id, client_secret or ""),
                    headers={"Accept": "application/json"}, timeout=client.timeout, verify=client.verify,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise ViyaTransientError(f"token request to {client.base_url} failed: {type(exc).__name__}") from None
            if resp.status_code >= 500 or resp.status_code == 429:
                raise ViyaTransientError(f"token endpoint answered {resp.status_code}",
                                         retry_after=_retry_after(resp.headers))
            if resp.status_code != 200:
                # The body may echo what was sent; never include it.
                raise ViyaAuthError(f"Viya refused the credentials ({resp.status_code} from {TOKEN_PATH})")
            try:
                token = resp.json()["access_token"]
            except (ValueError, KeyError, TypeError):
                raise ViyaTransientError("token endpoint answered without an access_token") from None
            return token

        return client.retrying(once, what="token request")


class PasswordAuth(_GrantAuth):
    """OAuth password grant; the client id/secret go as HTTP Basic (Viya's default CLI client is sas.cli)."""

    def __init__(self, username: str, password: str, client_id: str = "sas.cli", client_secret: str = ""):
        if not username or not password:
            raise ViyaAuthError("a username and a password are both required")
        self.username, self._password = username, password
        self.client_id, self._client_secret = client_id, client_secret

    def fetch(self, client):
        return self._grant(client, {"grant_type": "password", "username": self.username, "password": self._password},
                           self.client_id, self._client_secret)


class ClientCredentialsAuth(_GrantAuth):
    def __init__(self, client_id: str, client_secret: str):
        if not client_id or not client_secret:
            raise ViyaAuthError("a client id and a client secret are both required")
        self.client_id, self._client_secret = client_id, client_secret

    def fetch(self, client):
        return self._grant(client, {"grant_type": "client_credentials"}, self.client_id, self._client_secret)


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _token_expired(resp: requests.Response) -> bool:
    text = (resp.headers.get("WWW-Authenticate", "") + " " + resp.text[:2000]).lower()
    return "expired" in text or "invalid_token" in text


# ------------------------------------------------------------------------------------------------ client
def _session(base_url: str, verify) -> requests.Session:
    """A session whose proxy and CA settings are read from the environment once, not on every request
    (requests re-reads the whole environment per call, which dominated a 2,600-request harvest)."""
    session = requests.Session()
    session.trust_env = False
    if not requests.utils.should_bypass_proxies(base_url, no_proxy=None):
        session.proxies = requests.utils.getproxies()
    if verify is True:
        import os

        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


class ViyaClient:
    def __init__(self, base_url: str, auth: Auth, *, timeout: float = DEFAULT_TIMEOUT,
                 policy: RetryPolicy = RetryPolicy(), verify: bool | str = True,
                 session: requests.Session | None = None, max_retry_after: float = 60.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Viya URL must be http(s)://host[:port], not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.policy = policy
        self.verify = verify
        self.max_retry_after = max_retry_after
        self.session = session or _session(self.base_url, verify)
        self._token: str | None = None
        self._lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<ViyaClient {self.base_url}>"

    # -- plumbing ---------------------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def retrying(self, fn, *, what: str):
        state = {"retry_after": None}

        def classify(exc):
            if isinstance(exc, ViyaTransientError):
                state["retry_after"] = exc.retry_after
                return TRANSIENT
            if isinstance(exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
                state["retry_after"] = None
                return TRANSIENT
            if isinstance(exc, ViyaAuthError):
                return PERMANENT
            return None

        def sleep(wait: float):
            hinted = state["retry_after"]
            if hinted is not None:
                wait = max(wait, min(hinted, self.max_retry_after))
            time.sleep(wait)

        return call_with_retry(fn, classify=classify, policy=self.policy, what=what, sleep=sleep)

    def _bearer(self, *, stale: str | None = None) -> str:
        """The current token; a new one when there is none or when `stale` (the one just refused) is still
        current — so several requests refused at once renew it once."""
        with self._lock:
            if self._token is None or (stale is not None and self._token == stale):
                self._token = self.auth.fetch(self)
            return self._token

    def _send(self, method: str, url: str, *, params=None, headers=None, data=None, json_body=None) -> requests.Response:
        full = self.url(url)
        renewed = False
        while True:
            token = self._bearer()
            hdrs = {"Authorization": "Bearer " + token, **(headers or {})}
            self.requests_sent += 1
            try:
                resp = self.session.request(method, full, params=params, headers=hdrs, data=data, json=json_body,
                                            timeout=self.timeout,
                                            verify=self.session.verify if self.verify is True else self.verify)
            except requests.exceptions.InvalidURL as exc:
                raise ViyaPayloadError(f"invalid URL {full}: {exc}") from None
            if resp.status_code == 401 and self.auth.renewable and not renewed:
                # Tokens expire mid-harvest ("access token expired"); a renewable grant gets one new token.
                renewed = True
                self._bearer(stale=token)
                continue
            return resp

    def _check(self, method: str, url: str, resp: requests.Response) -> None:
        status = resp.status_code
        if status < 400:
            return
        if status == 401:
            hint = " (access token expired)" if _token_expired(resp) else ""
            raise ViyaAuthError(f"Viya answered 401 to {method} {url}{hint}; the credentials are not accepted")
        if status == 429 or status >= 500:
            raise ViyaTransientError(f"Viya answered {status} to {method} {url}", retry_after=_retry_after(resp.headers))
        code, message, details = None, "", []
        ctype = resp.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                body = resp.json()
                code, message, details = body.get("errorCode"), body.get("message") or "", body.get("details") or []
            except (ValueError, AttributeError):
                pass
        if not message:
            message = "no such service or path" if status == 404 and "html" in ctype else resp.reason or ""
        cls = ViyaNotFound if status == 404 else ViyaConflict if status in (409, 412, 428) else ViyaHTTPError
        raise cls(status, method, url, error_code=code, message=message, details=details)

    def request(self, method: str, url: str, *, params=None, headers=None, data=None, json_body=None,
                raw: bool = False, retry: bool = True) -> Resource:
        """One call with retries; the body parsed as JSON when the media type says JSON."""

        def once():
            resp = self._send(method, url, params=params, headers=headers, data=data, json_body=json_body)
            self._check(method, url, resp)
            ctype = resp.headers.get("Content-Type", "")
            try:
                content = resp.content
            except requests.exceptions.RequestException as exc:
                raise ViyaTransientError(f"body of {method} {url} cut off: {type(exc).__name__}") from None
            body: object = content
            if not raw:
                if resp.status_code in (204, 304) or not content:
                    body = None
                elif "json" in ctype:
                    try:
                        body = json.loads(content)
                    except ValueError:
                        # A JSON media type with an unparseable body is a cut-off transfer, not a contract change.
                        raise ViyaTransientError(f"truncated or invalid JSON from {method} {url}") from None
                else:
                    body = resp.text
            return Resource(body=body, etag=etag_of(resp.headers), last_modified=resp.headers.get("Last-Modified"),
                            status=resp.status_code, content_type=ctype, headers=dict(resp.headers))

        if not retry:
            return once()
        return self.retrying(once, what=f"{method} {url}")

    # -- reading -----------------------------------------------------------------------------------------
    def get(self, url: str, *, accept: str = "application/json, */*;q=0.1", params=None,
            if_none_match: ETag | str | None = None) -> Resource:
        headers = {"Accept": accept}
        if if_none_match:
            headers["If-None-Match"] = str(if_none_match)
        return self.request("GET", url, params=params, headers=headers)

    def get_optional(self, url: str, **kwargs) -> Resource | None:
        """None when the resource (or the whole service) answers 404."""
        try:
            return self.get(url, **kwargs)
        except ViyaNotFound:
            return None

    def download(self, url: str) -> bytes:
        return self.request("GET", url, headers={"Accept": "*/*"}, raw=True).body

    def pages(self, url: str, *, params: dict | None = None, limit: int | None = None,
              accept_item: str | None = None) -> Iterator[dict]:
        """Each page (envelope) of a collection, following the server's `next` links exactly as given."""
        query = dict(params or {})
        if limit is not None:
            query.setdefault("limit", limit)
        headers = {"Accept": ACCEPT_COLLECTION}
        if accept_item:
            headers["Accept-Item"] = accept_item
        seen: set[str] = set()
        next_url, next_params = url, query
        while next_url:
            page = self.request("GET", next_url, params=next_params, headers=headers).body
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ViyaPayloadError(f"{next_url} did not answer a collection")
            yield page
            nxt = href(page, "next")
            if not nxt or not page["items"] or nxt in seen:
                return
            seen.add(nxt)
            # A `next` link is followed only on the configured server: our bearer token goes with it, and
            # a collection (or someone who can write into one) must not be able to send it elsewhere.
            if _origin(self.url(nxt)) != _origin(self.base_url):
                raise ViyaPayloadError(f"{next_url} gave a next link to another server ({_origin(self.url(nxt))[1]}); "
                                       "not followed, so the token stays with the configured Viya server")
            next_url, next_params = nxt, None

    def collection(self, url: str, **kwargs) -> Iterator[dict]:
        for page in self.pages(url, **kwargs):
            yield from page["items"]

    def first(self, url: str, filter_expr: str) -> dict | None:
        for item in self.collection(url, params={"filter": filter_expr}, limit=1):
            return item
        return None

    # -- write-back ---------------------------------------------------------------------------------------
    def set_champion(self, project_id: str, model_id: str, *, etag: ETag | str | None = None) -> Resource:
        """Make `model_id` its project's champion; If-Match carries the project's ETag (read now if not given)."""
        project_url = f"/modelRepository/projects/{quote(project_id)}"
        if etag is None:
            etag = self.get(project_url, accept=PROJECT).etag
        if etag is None:
            raise ViyaPayloadError(f"{project_url} answered without an ETag; refusing an unconditional update")
        return self.request(
            "POST", f"{project_url}/champion", params={"modelId": model_id},
            headers={"Accept": MODEL, "If-Match": str(etag)}, retry=False,
        )

    def publish(self, *, name: str, source_uri: str, destination: str, model_name: str | None = None,
                notes: str | None = None, force: bool = False) -> Resource:
        """Publish a model (version) to a destination through /modelManagement/publish (asynchronous)."""
        body = {
            "name": name,
            "notes": notes,
            "modelContents": [{"modelName": model_name or name, "sourceUri": source_uri, "publishLevel": "model"}],
            "destinationName": destination,
        }
        return self.request(
            "POST", "/modelManagement/publish", params={"force": "true" if force else "false"},
            headers={"Content-Type": PUBLISH_REQUEST, "Accept": PUBLISH},
            data=json.dumps(body), retry=False,
        )
