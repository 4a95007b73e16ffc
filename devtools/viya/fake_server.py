"""A Viya stand-in on 127.0.0.1: a real HTTP server for tests, the demo and the benchmark.

It answers the OAuth token endpoint, serves every resource of a `ViyaState` through item and collection
endpoints the way Viya 2023.10 does (envelope members per endpoint, `start`/`limit` paging with server-built
`next` links, `eq(...)`/`and(...)` filters, `sortBy`, weak ETags, `If-None-Match` → 304, vnd.sas.error+json
errors), takes the two write-back calls (set champion with If-Match, publish), and replays any other
recorded answer at its exact method, path and query. Faults can be injected to test the client's retries.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from connectors.viya import times
from devtools.viya.fake_state import UUID, ViyaState, now_stamp

GO_COLLECTION = "application/vnd.sas.collection+json; charset=utf-8"
GO_ERROR = "application/vnd.sas.error+json; charset=utf-8; version=2"

# Per collection: envelope name, item media type (None: no `accept` member), default limit, links present.
ENVELOPES = {
    "repository": ("repositories", None, 20, True),
    "project": ("projects", "application/vnd.sas.models.project+json", 20, True),
    "project_version": ("projectVersions", "application/vnd.sas.models.project.version+json", 20, True),
    "model": ("models", "application/vnd.sas.models.model+json", 20, True),
    "project_models": ("items", "application/vnd.sas.models.model+json", 20, False),
    "model_version": ("modelVersions", None, 20, False),
    "content": ("modelFiles", "application/vnd.sas.models.model.content+json", 20, True),
    "version_content": ("modelFiles", "application/vnd.sas.models.model.content+json", 20, True),
    "destination": ("publishDestinations", "application/vnd.sas.models.publishing.destination+json", 100, True),
    "publish": ("publishedModels", "application/vnd.sas.models.publishing.publish+json", 20, True),
    "relationship": ("items", "application/vnd.sas.relationship", 10, True),
    "history": ("history", None, 20, True),
    "workflow": ("items", None, 20, True),
}
ITEM_TYPES = {
    "repository": "application/vnd.sas.models.repository+json",
    "project": "application/vnd.sas.models.project+json",
    "project_version": "application/vnd.sas.models.project.version+json",
    "model": "application/vnd.sas.models.model+json",
    "model_version": "application/vnd.sas.models.model.version+json",
    "content": "application/vnd.sas.models.model.content+json",
    "version_content": "application/vnd.sas.models.model.content+json",
    "destination": "application/vnd.sas.models.publishing.destination+json",
    "publish": "application/vnd.sas.models.publishing.publish+json",
    "relationship": "application/json",
}


# ------------------------------------------------------------------------------------------------ filters
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'[^']*')|(?P<punct>[(),])|(?P<word>[^\s(),"']+))""")


def parse_filter(text: str):
    """`eq(name,"x")`, `eq(name, 'x')`, `and(eq(a,"1"),ne(b,"2"))`, `in(id,"a","b")`, `contains(...)` → predicate."""
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _TOKEN.finditer(text) if m.group(m.lastgroup)]
    pos = 0

    def take():
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"filter ends early: {text!r}")
        tok = tokens[pos]
        pos += 1
        return tok

    def expr():
        kind, name = take()
        if kind != "word" or take() != ("punct", "("):
            raise ValueError(f"bad filter near {name!r}: {text!r}")
        args = []
        while True:
            if tokens[pos][0] == "word" and pos + 1 < len(tokens) and tokens[pos + 1] == ("punct", "("):
                args.append(expr())
            else:
                k, v = take()
                args.append(("lit", v[1:-1].replace('\\"', '"') if k == "str" else v))
            sep = take()
            if sep == ("punct", ")"):
                break
            if sep != ("punct", ","):
                raise ValueError(f"bad filter: {text!r}")
        return (name.lower(), args)

    tree = expr()
    if pos != len(tokens):
        raise ValueError(f"trailing text in filter: {text!r}")
    return lambda item: _eval(tree, item)


def _field(item: dict, name: str):
    return item.get(name)


def _eval(node, item):
    op, args = node
    if op in ("and", "or", "not"):
        values = [_eval(a, item) for a in args]
        return all(values) if op == "and" else any(values) if op == "or" else not values[0]
    fname = args[0][1]
    lits = [a[1] for a in args[1:]]
    value = _field(item, fname)
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    if op == "eq":
        return text == lits[0]
    if op == "ne":
        return text != lits[0]
    if op == "in":
        return text in lits
    if op in ("contains", "startswith", "endswith"):
        fn = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[op]
        return fn(text.lower(), lits[0].lower())
    if op in ("gt", "ge", "lt", "le"):
        a, b = times.parse(value) if "TimeStamp" in fname else value, times.parse(lits[0]) if "TimeStamp" in fname else lits[0]
        if a is None or b is None:
            return False
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    raise ValueError(f"unsupported filter function {op}")


# ------------------------------------------------------------------------------------------------ faults
@dataclass
class FaultPlan:
    """Every `every`-th resource GET gets the next fault of `kinds` (cycling), so no request fails twice in a
    row and a client with retries always gets through. Kinds: 500, 503, 429, timeout, truncate, expire."""

    every: int = 5
    kinds: tuple = ("500", "timeout", "429", "truncate", "expire", "503")
    retry_after: str = "1"
    timeout_sleep: float = 1.5
    count: int = 0
    injected: dict = field(default_factory=dict)

    def next(self) -> str | None:
        self.count += 1
        if self.count % self.every:
            return None
        kind = self.kinds[(self.count // self.every - 1) % len(self.kinds)]
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes


class FakeViya:
    """`with FakeViya(state) as viya: viya.url ...` — a threaded server on an ephemeral port."""

    def __init__(self, state: ViyaState, *, users: dict | None = None, clients: dict | None = None,
                 token_lifetime: int = 3600, faults: FaultPlan | None = None, strict_auth: bool = True):
        self.state = state
        self.users = users if users is not None else {"viya-user": "viya-password"}
        self.clients = clients if clients is not None else {"sas.cli": "", "ll-harvester": "ll-client-secret"}
        self.token_lifetime = token_lifetime
        self.faults = faults
        self.strict_auth = strict_auth
        self.tokens: set[str] = set()
        self.static_tokens: set[str] = set()
        self.calls: list[Call] = []
        self.lock = threading.RLock()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> "FakeViya":
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-viya", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def issue_token(self) -> str:
        """A bearer token usable as `--token` (never expired by `expire` faults)."""
        token = secrets.token_urlsafe(24)
        self.static_tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]


class _Reply(Exception):
    def __init__(self, status, body=None, ctype="application/json", headers=None):
        self.status, self.body, self.ctype, self.headers = status, body, ctype, headers or {}


def _error(status: int, message: str, code: int = 0, path: str = "") -> _Reply:
    return _Reply(status, {"errorCode": code, "message": message, "details": [f"path: {path}"],
                           "httpStatusCode": status, "version": 2}, GO_ERROR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeViya

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs add ~40 ms to each
        # keep-alive answer, which would make the fake (not the connector) the bottleneck.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    # -- dispatch -------------------------------------------------------------------------------------------
    def _handle(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        fake = self.fake
        with fake.lock:
            fake.calls.append(Call(method, parts.path, parts.query, dict(self.headers), body))
        try:
            if method == "POST" and parts.path == "/SASLogon/oauth/token":
                raise self._token(body)
            self._authorize()
            fault = None
            if fake.faults is not None and method == "GET":
                with fake.lock:
                    fault = fake.faults.next()
            if fault:
                self._fault(fault)
                return
            raise _route(fake, method, parts.path, parts.query, self.headers, body)
        except _Reply as reply:
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (an injected timeout)

    def _token(self, body: bytes) -> _Reply:
        fake = self.fake
        form = dict(parse_qsl(body.decode()))
        basic = self.headers.get("Authorization", "")
        client_id = client_secret = None
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id not in fake.clients or fake.clients[client_id] != (client_secret or ""):
            return _Reply(401, {"error": "unauthorized", "error_description": "Bad client credentials"})
        grant = form.get("grant_type")
        if grant == "password":
            if fake.users.get(form.get("username")) != form.get("password") or not form.get("password"):
                return _Reply(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
        elif grant != "client_credentials":
            return _Reply(400, {"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(24)
        with fake.lock:
            fake.tokens.add(token)
        return _Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": fake.token_lifetime,
                            "scope": "openid", "jti": uuid.uuid4().hex})

    def _authorize(self):
        if not self.fake.strict_auth:
            return
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token and (token in self.fake.tokens or token in self.fake.static_tokens):
            return
        if token:
            raise _Reply(401, {"error": "invalid_token", "error_description": "Access token expired"},
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="Access token expired"'})
        raise _Reply(401, {"error": "unauthorized", "error_description": "Full authentication is required"},
                     headers={"WWW-Authenticate": 'Bearer realm="oauth"'})

    def _fault(self, kind: str):
        if kind in ("500", "503"):
            self._send(_error(int(kind), "injected server error"))
        elif kind == "429":
            self._send(_Reply(429, {"errorCode": 0, "message": "Too many requests", "httpStatusCode": 429},
                              GO_ERROR, {"Retry-After": self.fake.faults.retry_after}))
        elif kind == "timeout":
            time.sleep(self.fake.faults.timeout_sleep)
            try:
                self._send(_error(504, "too late"))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        elif kind == "expire":
            self.fake.expire_tokens()
            self._send(_Reply(401, {"error": "invalid_token", "error_description": "Access token expired"},
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="Access token expired"'}))
        elif kind == "truncate":
            payload = json.dumps({"items": [{"id": "x" * 200}] * 5, "count": 5}).encode()
            self.send_response(200)
            self.send_header("Content-Type", GO_COLLECTION)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

    def _send(self, reply: _Reply):
        if isinstance(reply.body, (bytes, bytearray)):
            payload = bytes(reply.body)
        elif reply.body is None:
            payload = b""
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.status not in (204, 304) and reply.ctype:
            self.send_header("Content-Type", reply.ctype)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload) if reply.status not in (204, 304) else 0))
        self.end_headers()
        if self.command != "HEAD" and reply.status not in (204, 304):
            self.wfile.write(payload)


# ------------------------------------------------------------------------------------------------ routes
ROUTES = [
    ("GET", re.compile(r"^/modelRepository/repositories/?$"), "list_repositories"),
    ("GET", re.compile(rf"^/modelRepository/repositories/({UUID})$"), "item_repository"),
    ("GET", re.compile(r"^/modelRepository/projects/?$"), "list_projects"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})$"), "item_project"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/projectVersions$"), "list_project_versions"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/projectVersions/({UUID})$"), "item_project_version"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/projectVersions/({UUID})/models$"), "list_project_version_models"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/models$"), "list_project_models"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/history$"), "list_project_history"),
    ("GET", re.compile(rf"^/modelRepository/projects/({UUID})/champion$"), "get_champion"),
    ("POST", re.compile(rf"^/modelRepository/projects/({UUID})/champion$"), "set_champion"),
    ("GET", re.compile(r"^/modelRepository/models/?$"), "list_models"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})$"), "item_model"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions$"), "list_model_versions"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions/({UUID})$"), "item_model_version"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions/({UUID})/contents$"), "list_version_contents"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions/({UUID})/contents/({UUID})/content$"), "version_content_bytes"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/contents$"), "list_contents"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/contents/({UUID})$"), "item_content"),
    ("GET", re.compile(rf"^/modelRepository/models/({UUID})/contents/({UUID})/content$"), "content_bytes"),
    ("GET", re.compile(r"^/modelPublish/destinations/?$"), "list_destinations"),
    ("GET", re.compile(r"^/modelPublish/destinations/([^/]+)$"), "item_destination"),
    ("GET", re.compile(r"^/modelPublish/models/?$"), "list_publishes"),
    ("GET", re.compile(rf"^/modelPublish/models/({UUID})$"), "item_publish"),
    ("GET", re.compile(rf"^/modelPublish/models/({UUID})/log$"), "item_publish_log"),
    ("POST", re.compile(r"^/modelManagement/publish$"), "publish"),
    ("GET", re.compile(r"^/relationships/relationships/?$"), "list_relationships"),
    ("GET", re.compile(rf"^/relationships/relationships/({UUID})$"), "item_relationship"),
    ("GET", re.compile(r"^/modelManagement/(workflowProcesses|workflowAssociations|workflowTasks)$"), "list_workflows"),
]


def _route(fake: FakeViya, method: str, path: str, query: str, headers, body: bytes) -> _Reply:
    for m, pattern, name in ROUTES:
        if m == method:
            match = pattern.match(path)
            if match:
                args = [unquote(g) for g in match.groups()]
                with fake.lock:
                    return globals()["_" + name](fake, args, dict(parse_qsl(query, keep_blank_values=True)), headers, body, path)
    uri = path + ("?" + query if query else "")
    recorded = fake.state.replay.get((method, uri))
    if recorded is not None:
        body_out = recorded.body
        if isinstance(body_out, dict) and "$base64" in body_out:
            body_out = base64.b64decode(body_out["$base64"])
        hdrs = {k: v for k, v in recorded.headers.items() if k.lower() in ("etag", "last-modified", "location", "content-location")}
        return _Reply(recorded.status, body_out, recorded.content_type, hdrs)
    return _Reply(404, "<html><body><h1>404 Not Found</h1><hr><center>nginx</center></body></html>", "text/html")


def _collection(kind: str, items: list, query: dict, path: str, *, collection_path: str | None = None) -> _Reply:
    name, accept, default_limit, has_links = ENVELOPES[kind]
    if query.get("filter"):
        try:
            pred = parse_filter(query["filter"])
        except ValueError as exc:
            raise _error(400, f"The filter is invalid: {exc}", 1000, path)
        items = [i for i in items if pred(i)]
    sort = query.get("sortBy") or ""
    for spec in reversed([s for s in sort.split(",") if s]):
        fname, _, order = spec.partition(":")
        items = sorted(items, key=lambda i: (i.get(fname) is None, str(i.get(fname) or "")), reverse=order == "descending")
    try:
        start = max(0, int(query.get("start") or 0))
        limit = max(0, int(query.get("limit") or default_limit))
    except ValueError:
        raise _error(400, "start and limit must be integers", 1001, path)
    page = items[start:start + limit]
    base = collection_path or path
    env = {"version": 2, "count": len(items), "start": start, "limit": limit, "name": name, "items": page}
    if accept:
        env["accept"] = accept
    extra = {k: v for k, v in query.items() if k in ("filter", "sortBy")}
    if has_links:
        links = [{"method": "GET", "rel": "collection", "href": base, "uri": base, "type": "application/vnd.sas.collection"},
                 {"method": "GET", "rel": "self", "href": _page_url(base, start, limit, extra),
                  "uri": _page_url(base, start, limit, extra), "type": "application/vnd.sas.collection"}]
        if start > 0:
            links.append({"method": "GET", "rel": "first", "href": _page_url(base, 0, limit, extra),
                          "uri": _page_url(base, 0, limit, extra), "type": "application/vnd.sas.collection"})
            prev = max(0, start - limit)
            links.append({"method": "GET", "rel": "prev", "href": _page_url(base, prev, limit, extra),
                          "uri": _page_url(base, prev, limit, extra), "type": "application/vnd.sas.collection"})
        if start + limit < len(items):
            nxt = _page_url(base, start + limit, limit, extra, relationships=kind == "relationship")
            links.append({"method": "GET", "rel": "next", "href": nxt, "uri": nxt, "type": "application/vnd.sas.collection"})
        env["links"] = links
    elif start + limit < len(items):
        # Collections without links still page; give the next link so a client never has to build one.
        nxt = _page_url(base, start + limit, limit, extra)
        env["links"] = [{"method": "GET", "rel": "next", "href": nxt, "uri": nxt, "type": "application/vnd.sas.collection"}]
    ctype = "application/json; charset=utf-8" if kind == "relationship" else GO_COLLECTION
    return _Reply(200, env, ctype)


def _page_url(base: str, start: int, limit: int, extra: dict, relationships: bool = False) -> str:
    # Parameter order differs per service in real answers; relationships put limit first.
    if relationships:
        params = [("limit", limit), *sorted(extra.items()), ("start", start)]
    else:
        params = [("start", start), ("limit", limit), *sorted(extra.items())]
    return base + "?" + urlencode(params, quote_via=quote, safe="(),\"'")


def _item(fake: FakeViya, kind: str, ident: tuple, headers, path: str) -> _Reply:
    body = fake.state.get(kind, *ident)
    if body is None:
        codes = {"model": 21206, "project": 21202}
        raise _error(404, f"The {kind.replace('_', ' ')} \"{'/'.join(ident)}\" was not found.", codes.get(kind, 0), path)
    etag = fake.state.etag(kind, ident)
    when = times.parse(body.get("modifiedTimeStamp"))
    hdrs = {"Etag": etag}
    if when and kind != "model":  # as recorded: no Last-Modified on /modelRepository/models/{id}
        hdrs["Last-Modified"] = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    inm = headers.get("If-None-Match")
    if inm and inm.strip() == etag:
        return _Reply(304, None, None, hdrs)
    return _Reply(200, body, ITEM_TYPES.get(kind, "application/json") + "; charset=utf-8", hdrs)


def _values(fake, kind):
    return list(fake.state.items(kind).values())


def _list_repositories(f, a, q, h, b, p):
    return _collection("repository", _values(f, "repository"), q, p)


def _item_repository(f, a, q, h, b, p):
    return _item(f, "repository", (a[0],), h, p)


def _list_projects(f, a, q, h, b, p):
    return _collection("project", _values(f, "project"), q, p)


def _item_project(f, a, q, h, b, p):
    return _item(f, "project", (a[0],), h, p)


def _need_project(f, pid, p):
    if f.state.get("project", pid) is None:
        raise _error(404, f'The project "{pid}" was not found.', 21202, p)


def _list_project_versions(f, a, q, h, b, p):
    _need_project(f, a[0], p)
    return _collection("project_version", f.state.members("project_version", a[0]), q, p)


def _item_project_version(f, a, q, h, b, p):
    return _item(f, "project_version", (a[0], a[1]), h, p)


def _list_project_version_models(f, a, q, h, b, p):
    _need_project(f, a[0], p)
    items = [m for m in _values(f, "model") if m.get("projectId") == a[0] and m.get("projectVersionId") == a[1]]
    return _collection("project_models", items, q, p)


def _list_project_models(f, a, q, h, b, p):
    _need_project(f, a[0], p)
    return _collection("project_models", [m for m in _values(f, "model") if m.get("projectId") == a[0]], q, p)


def _list_project_history(f, a, q, h, b, p):
    _need_project(f, a[0], p)
    return _collection("history", list(f.state.history.get(a[0], [])), q, p)


def _champion_of(f, pid):
    return next((m for m in _values(f, "model") if m.get("projectId") == pid and m.get("role") == "champion"), None)


def _get_champion(f, a, q, h, b, p):
    _need_project(f, a[0], p)
    model = _champion_of(f, a[0])
    if model is None:
        raise _error(404, f'The project "{a[0]}" has no champion model.', 21233, p)
    return _item(f, "model", (model["id"],), h, p)


def _set_champion(f, a, q, h, b, p):
    pid = a[0]
    _need_project(f, pid, p)
    etag = f.state.etag("project", (pid,))
    if_match = h.get("If-Match")
    if not if_match:
        raise _error(428, "An If-Match header is required to update the project.", 1206, p)
    if if_match.strip() != etag:
        raise _error(412, "The If-Match header does not match the project's current ETag.", 1207, p)
    model = f.state.get("model", q.get("modelId", ""))
    if model is None or model.get("projectId") != pid:
        raise _error(400, f"The model \"{q.get('modelId')}\" is not a model of project \"{pid}\".", 21235, p)
    when = now_stamp()
    previous = _champion_of(f, pid)
    if previous is not None and previous["id"] != model["id"]:
        f.state.put("model", (previous["id"],), {**previous, "role": "plain", "modifiedTimeStamp": when})
    model = {**model, "role": "champion", "modifiedTimeStamp": when}
    f.state.put("model", (model["id"],), model)
    project = f.state.get("project", pid)
    challengers = [c for c in project.get("challengerModels") or [] if c != model["id"]]
    f.state.put("project", (pid,), {**project, "championModelName": model["name"], "championModelId": model["id"],
                                    "challengerModels": challengers, "modifiedTimeStamp": when})
    f.state.history.setdefault(pid, []).append({
        "id": str(uuid.uuid4()), "action": "setChampion", "modelId": model["id"], "modelName": model["name"],
        "modelVersionName": model.get("modelVersionName"), "previousChampionId": previous["id"] if previous else None,
        "creationTimeStamp": when, "createdBy": "writeback"})
    return _item(f, "model", (model["id"],), {}, p)


def _list_models(f, a, q, h, b, p):
    return _collection("model", _values(f, "model"), q, p)


def _item_model(f, a, q, h, b, p):
    return _item(f, "model", (a[0],), h, p)


def _need_model(f, mid, p):
    if f.state.get("model", mid) is None:
        raise _error(404, f'The model "{mid}" was not found.', 21206, p)


def _list_model_versions(f, a, q, h, b, p):
    _need_model(f, a[0], p)
    return _collection("model_version", f.state.model_versions_of(a[0]), q, p)


def _item_model_version(f, a, q, h, b, p):
    return _item(f, "model_version", (a[0], a[1]), h, p)


def _list_version_contents(f, a, q, h, b, p):
    _need_model(f, a[0], p)
    return _collection("version_content", f.state.version_contents(a[0], a[1]), q, p)


def _bytes_reply(f, body):
    if body is None:
        raise _error(404, "The content was not found.", 21210)
    return _Reply(200, f.state.file_content(body.get("fileUri") or ""), "application/octet-stream")


def _version_content_bytes(f, a, q, h, b, p):
    return _bytes_reply(f, f.state.get("version_content", a[0], a[1], a[2]))


def _list_contents(f, a, q, h, b, p):
    _need_model(f, a[0], p)
    return _collection("content", f.state.contents_of(a[0]), q, p)


def _item_content(f, a, q, h, b, p):
    return _item(f, "content", (a[0], a[1]), h, p)


def _content_bytes(f, a, q, h, b, p):
    return _bytes_reply(f, f.state.get("content", a[0], a[1]))


def _list_destinations(f, a, q, h, b, p):
    return _collection("destination", _values(f, "destination"), q, p)


def _item_destination(f, a, q, h, b, p):
    return _item(f, "destination", (a[0],), h, p)


def _list_publishes(f, a, q, h, b, p):
    return _collection("publish", _values(f, "publish"), q, p)


def _item_publish(f, a, q, h, b, p):
    body = f.state.get("publish", a[0])
    if body is not None and body.get("state") in ("pending", "running"):
        # Publishing runs asynchronously in Viya: a poll finds it one step further along.
        f.state.put("publish", (a[0],), {**body, "state": "running" if body["state"] == "pending" else "completed",
                                         "modifiedTimeStamp": now_stamp()})
    return _item(f, "publish", (a[0],), h, p)


def _item_publish_log(f, a, q, h, b, p):
    body = f.state.get("publish_log", a[0])
    if body is None:
        raise _error(404, f'No log for "{a[0]}".', 0, p)
    return _Reply(200, body, "application/json; charset=utf-8")


def _publish(f, a, q, h, b, p):
    ctype = (h.get("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/vnd.sas.models.publishing.request.asynchronous+json":
        raise _error(415, f"Unsupported media type {ctype!r}.", 0, p)
    try:
        req = json.loads(b or b"{}")
        content = req["modelContents"][0]
        source_uri, dest = content["sourceUri"], req["destinationName"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _error(400, "The publish request is invalid.", 0, p)
    if f.state.get("destination", dest) is None:
        raise _error(404, f'The destination "{dest}" was not found.', 0, p)
    m = re.match(rf"^/modelRepository/models/({UUID})(?:/modelVersions/({UUID}))?$", source_uri)
    model = f.state.get("model", m.group(1)) if m else None
    if model is None:
        raise _error(400, f"The source {source_uri!r} is not a model.", 0, p)
    version_name = model["modelVersionName"]
    if m.group(2):
        version = f.state.get("model_version", m.group(1), m.group(2))
        if version is None:
            raise _error(400, f"The source {source_uri!r} is not a model version.", 0, p)
        version_name = version["modelVersionName"]
    body = f.state.add_publish(model, dest, state="pending", version_name=version_name, source_uri=source_uri)
    body = {**body, "name": req.get("name") or body["name"], "publishName": content.get("modelName") or body["publishName"]}
    f.state.put("publish", (body["id"],), body)
    return _Reply(201, body, "application/vnd.sas.models.publishing.publish+json; charset=utf-8",
                  {"Etag": f.state.etag("publish", (body["id"],)), "Location": f"/modelPublish/models/{body['id']}"})


def _list_relationships(f, a, q, h, b, p):
    return _collection("relationship", _values(f, "relationship"), q, p)


def _item_relationship(f, a, q, h, b, p):
    return _item(f, "relationship", (a[0],), h, p)


def _list_workflows(f, a, q, h, b, p):
    if f.state.workflows is None:
        # Not deployed (as on the recorded server, where nothing under /modelManagement/workflow* answered).
        return _Reply(404, "<html><body><h1>404 Not Found</h1><hr><center>nginx</center></body></html>", "text/html")
    key = {"workflowProcesses": "processes", "workflowAssociations": "associations", "workflowTasks": "tasks"}[a[0]]
    return _collection("workflow", copy.deepcopy(f.state.workflows.get(key, [])), q, p)
