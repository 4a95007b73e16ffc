"""A small HTTP proxy in front of a real server that can slow requests down or answer some with an error
status (429, 503 …) before the server sees them: how tests make a real MLflow server misbehave."""
from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


MLFLOW_ERRORS = {400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "RESOURCE_DOES_NOT_EXIST"}


@dataclass
class Fault:
    pattern: str          # regex searched in the request path
    status: int = 0       # 0: no error, only the delay
    delay: float = 0.0
    times: int = 1        # how many matching requests it applies to


class FaultyProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, int]] = []  # (path, status answered)
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                import time

                proxy.authorizations.append(self.headers.get("Authorization"))
                fault = proxy._take(self.path)
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status:
                    # What answers such a status in life: the server's own JSON error for 4xx, a gateway's
                    # plain text for 429 and 5xx.
                    code = MLFLOW_ERRORS.get(fault.status)
                    if code:
                        body, kind = f'{{"error_code": "{code}", "message": "injected"}}'.encode(), "application/json"
                    else:
                        body, kind = f"{fault.status} injected by the test proxy".encode(), "text/plain"
                    self.send_response(fault.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    proxy.seen.append((self.path, fault.status))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=data, headers=headers)
                answer = conn.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                conn.close()
                proxy.seen.append((self.path, answer.status))

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.pattern, path):
                    fault.times -= 1
                    return fault
        return None

    def inject(self, pattern: str, *, status: int = 0, delay: float = 0.0, times: int = 1) -> None:
        with self._lock:
            self.faults.append(Fault(pattern, status, delay, times))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
