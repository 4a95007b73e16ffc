"""A small but faithful KFP v2beta1 API server for tests, the demo and benchmarks.

It implements the endpoints the connector reads, as the swagger files in ../shared/fixtures/kfp/swagger
describe them and as KFP's API server behaves: `GET /apis/v2beta1/healthz`; list experiments, pipelines,
pipeline versions and runs with `page_token` / `page_size` (0 -> 20, > 200 clamped to 200, < 0 rejected) /
`sort_by` ("field [asc|desc]", ties broken by the key) / `filter` (JSON predicates AND-ed, snake or camel
case value fields); `GET runs/{id}`; snake_case JSON without unpopulated fields; errors as googleRpcStatus.
A page token is base64 JSON remembering the sort and filter; a request whose sort/filter differ from the
token's is rejected like the real server does.

Fault injection (`server.inject(...)`) answers chosen requests with an HTTP error, a delay longer than the
client's timeout, or a body that is not JSON, so tests can prove the connector's retry and failure paths.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PREFIX = "/apis/v2beta1"
GRPC_HTTP = {3: 400, 5: 404, 16: 401, 7: 403, 13: 500, 14: 503}
OPERATIONS = {"EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS", "IN",
              "IS_SUBSTRING"}
COLLECTIONS = {"experiments": "experiment_id", "pipelines": "pipeline_id", "pipeline_versions": "pipeline_version_id",
               "runs": "run_id"}


class RpcError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Fault:
    match: str  # regex on the request path
    status: int = 503
    delay: float = 0.0  # seconds to stall before answering (a timeout when longer than the client's)
    garbage: bool = False  # answer 200 with a body that is not JSON
    skip: int = 0  # let this many matching requests through first
    times: int = 1  # then fail this many


def _strip(value):
    """Drop unpopulated fields, as the server's marshaler does (EmitUnpopulated: false)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _time(value) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _predicate_value(pred: dict):
    for name in ("int_value", "long_value", "string_value", "timestamp_value", "int_values", "long_values",
                 "string_values"):
        if name in pred:
            value = pred[name]
            if name.endswith("_values"):
                return name, list((value or {}).get("values") or [])
            return name, value
    raise RpcError(3, f"predicate on {pred.get('key')!r} has no value")


def _matches(item: dict, pred: dict) -> bool:
    key, op = pred.get("key"), pred.get("operation") or pred.get("op")
    if op not in OPERATIONS:
        raise RpcError(3, f"invalid filter operation {op!r}")
    kind, want = _predicate_value(pred)
    have = item.get(key)
    if key == "pipeline_version_id" and have is None:
        have = (item.get("pipeline_version_reference") or {}).get("pipeline_version_id")
    if have is None:
        return False
    if kind == "timestamp_value" or key.endswith("_at"):
        have, want = _time(have), [_time(w) for w in want] if isinstance(want, list) else _time(want)
    elif kind in ("int_value", "long_value", "int_values", "long_values"):
        have, want = int(have), [int(w) for w in want] if isinstance(want, list) else int(want)
    if op == "EQUALS":
        return have == want
    if op == "NOT_EQUALS":
        return have != want
    if op == "GREATER_THAN":
        return have > want
    if op == "GREATER_THAN_EQUALS":
        return have >= want
    if op == "LESS_THAN":
        return have < want
    if op == "LESS_THAN_EQUALS":
        return have <= want
    if op == "IN":
        return have in want
    return str(want) in str(have)  # IS_SUBSTRING


def parse_filter(text: str | None) -> list[dict]:
    if not text:
        return []
    try:
        raw = json.loads(text)
    except ValueError:
        raise RpcError(3, f"filter is not valid JSON: {text[:80]}") from None
    preds = []
    for pred in raw.get("predicates") or []:
        preds.append({_camel_to_snake(k): v for k, v in pred.items()})
    return preds


class KfpState:
    """The objects served, by collection. Tests mutate them (add runs, finish a run) between harvests."""

    def __init__(self):
        self.experiments: list[dict] = []
        self.pipelines: list[dict] = []
        self.pipeline_versions: list[dict] = []
        self.runs: list[dict] = []
        self.lock = threading.Lock()

    def load(self, source) -> None:
        self.experiments += [dict(x) for x in source.experiments]
        self.pipelines += [dict(x) for x in source.pipelines]
        self.pipeline_versions += [dict(x) for x in source.versions]
        self.runs += [dict(x) for x in source.runs]

    def run(self, run_id: str) -> dict:
        for run in self.runs:
            if run["run_id"] == run_id:
                return run
        raise RpcError(5, f"Failed to get run: run {run_id} not found")


class _Handler(BaseHTTPRequestHandler):
    server: "FakeKfpServer"
    protocol_version = "HTTP/1.1"
    # Keep-alive answers are written in pieces; with Nagle's algorithm on, each waited ~40 ms for the client's
    # delayed ACK (45 ms per GET against 0.6 ms without), which made harvests wait on the fake, not the work.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        parsed = urlparse(self.path)
        self.server.requests.append(parsed.path + ("?" + parsed.query if parsed.query else ""))
        fault = self.server._take_fault(parsed.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.garbage:
                return self._send(200, b"<html>upstream proxy error</html>", "text/html")
            if fault.status:
                return self._send_json(fault.status, {"code": 14 if fault.status >= 500 else 2,
                                                      "message": f"injected fault {fault.status}", "details": []})
        try:
            if self.server.token and self.headers.get("Authorization") != f"Bearer {self.server.token}":
                raise RpcError(16, "Request header error: there is no user identity header or token is invalid")
            self._send_json(200, self._route(parsed.path, parse_qs(parsed.query)))
        except RpcError as exc:
            self._send_json(GRPC_HTTP.get(exc.code, 500), {"code": exc.code, "message": exc.message, "details": []})

    def _route(self, path: str, query: dict) -> dict:
        state = self.server.state
        if not path.startswith(PREFIX):
            raise RpcError(5, f"Not Found: {path}")
        rest = path[len(PREFIX):].strip("/").split("/")
        with state.lock:
            if rest == ["healthz"]:
                return {"multi_user": False, "pipeline_store": "database"}
            if rest == ["experiments"]:
                return self._list("experiments", state.experiments, query)
            if rest == ["pipelines"]:
                return self._list("pipelines", state.pipelines, query)
            if len(rest) == 3 and rest[0] == "pipelines" and rest[2] == "versions":
                items = [v for v in state.pipeline_versions if v.get("pipeline_id") == rest[1]]
                return self._list("pipeline_versions", items, query)
            if rest == ["runs"]:
                items = state.runs
                if query.get("experiment_id"):
                    items = [r for r in items if r.get("experiment_id") == query["experiment_id"][0]]
                return self._list("runs", items, query)
            if len(rest) == 2 and rest[0] == "runs":
                return _strip(state.run(rest[1]))
        raise RpcError(5, f"Not Found: {path}")

    def _list(self, collection: str, items: list[dict], query: dict) -> dict:
        key_field = COLLECTIONS[collection]
        one = {k: v[0] for k, v in query.items()}
        try:
            page_size = int(one.get("page_size") or 0)
        except ValueError:
            raise RpcError(3, "page_size must be an integer") from None
        if page_size < 0:
            raise RpcError(3, f"Invalid page size {page_size}: must be non-negative")
        page_size = 20 if page_size == 0 else min(page_size, 200)
        sort_by, flt = one.get("sort_by", ""), one.get("filter", "")
        offset_key = None
        if one.get("page_token"):
            try:
                token = json.loads(base64.b64decode(one["page_token"]))
            except ValueError:
                raise RpcError(3, "Invalid page token") from None
            if (sort_by and sort_by != token["sort_by"]) or (flt and flt != token["filter"]):
                raise RpcError(3, "page token does not match the supplied sort by and/or filtering criteria")
            sort_by, flt, offset_key = token["sort_by"], token["filter"], token["after"]
        parts = sort_by.split()
        sort_field = parts[0] if parts else key_field
        desc = len(parts) > 1 and parts[1].lower() == "desc"
        if len(parts) > 1 and parts[1].lower() not in ("asc", "desc"):
            raise RpcError(3, f"invalid sort_by {sort_by!r}")
        preds = parse_filter(flt)
        selected = [i for i in items if all(_matches(i, p) for p in preds)]

        def sort_key(item):
            value = item.get(sort_field)
            if sort_field.endswith("_at") and value:
                value = _time(value).isoformat()
            return (value is not None, value if value is not None else "", str(item.get(key_field)))

        selected.sort(key=sort_key, reverse=desc)
        if offset_key is not None:
            after = tuple(offset_key)
            selected = [i for i in selected
                        if (list(sort_key(i)) > list(after) if not desc else list(sort_key(i)) < list(after))]
        total = len(selected) if offset_key is None else None
        page = selected[:page_size]
        body = {collection: [_strip(i) for i in page]}
        if total is not None:
            body["total_size"] = total
        if len(selected) > page_size:
            token = {"sort_by": sort_by, "filter": flt, "after": list(sort_key(page[-1])),
                     "key_field": key_field, "sort_field": sort_field}
            body["next_page_token"] = base64.b64encode(json.dumps(token).encode()).decode()
        return body

    def _send_json(self, status: int, body: dict):
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, data: bytes, content_type: str):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


class FakeKfpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: KfpState | None = None, *, token: str = "", port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state or KfpState()
        self.token = token
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self._fault_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def inject(self, match: str, **kwargs) -> Fault:
        fault = Fault(match=match, **kwargs)
        with self._fault_lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, path: str) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.match, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> "FakeKfpServer":
        self._thread = threading.Thread(target=self.serve_forever, name="fake-kfp-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    @classmethod
    @contextlib.contextmanager
    def serving(cls, source=None, **kwargs):
        state = KfpState()
        if source is not None:
            state.load(source)
        server = cls(state, **kwargs).start()
        try:
            yield server
        finally:
            server.stop()


def load_proto_testdata(state: KfpState, folder) -> None:
    """Add KFP's own v2beta1 test objects (../shared/fixtures/kfp/proto_testdata/...) to what is served."""
    from pathlib import Path

    folder = Path(folder)

    def read(name):
        return json.loads((folder / name).read_text())

    state.experiments.append(read("experiment.json"))
    state.pipelines.append(read("pipeline.json"))
    state.pipeline_versions.append(read("pipeline_version.json"))
    # run_completed_with_spec.json repeats run_completed's run_id (same run, inline spec): serving both would
    # give one id two bodies, which no server does.
    for name in ("run_completed.json", "run_failed.json"):
        state.runs.append(read(name))
