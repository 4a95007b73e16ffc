"""A real MLflow tracking server for tests and benchmarks: `mlflow server` with a SQLite backend store and
a local artefact root on a free port of 127.0.0.1.

The server runs from its own virtualenv because full `mlflow` pins gunicorn<27 (and pulls protobuf 5+,
pandas, scikit-learn …), which the product's pins exclude; the product only needs `mlflow-skinny` (the
client). The virtualenv is made on first use under the cache dir ($LL_MLFLOW_SERVER_VENV, else
$XDG_CACHE_HOME or ~/.cache /lineage-ledger/mlflow-server-<version>) with `pip install mlflow==<version>`
(the same version as the client), under a file lock so parallel test workers build it once.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MLFLOW_VERSION = "3.18.0"


class ServerUnavailable(RuntimeError):
    """The server could not be installed or started (the reason says which)."""


def venv_dir() -> Path:
    if os.environ.get("LL_MLFLOW_SERVER_VENV"):
        return Path(os.environ["LL_MLFLOW_SERVER_VENV"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "lineage-ledger" / f"mlflow-server-{MLFLOW_VERSION}"


def _python311() -> str:
    for name in ("python3.11", sys.executable):
        found = shutil.which(name) if os.sep not in name else name
        if found:
            return found
    raise ServerUnavailable("no python3.11 to make the MLflow server's virtualenv with")


def ensure_server_venv() -> Path:
    """The `mlflow` executable of the server virtualenv, made (once) if missing."""
    venv = venv_dir()
    exe = venv / "bin" / "mlflow"
    marker = venv / ".installed"
    if marker.exists() and exe.exists():
        return exe
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and exe.exists():
            return exe
        if venv.exists():
            shutil.rmtree(venv)
        log = Path(str(venv) + ".install.log")
        with open(log, "w") as out:
            steps = [[_python311(), "-m", "venv", str(venv)],
                     [str(venv / "bin" / "pip"), "install", "-q", f"mlflow=={MLFLOW_VERSION}"]]
            for step in steps:
                if subprocess.call(step, stdout=out, stderr=subprocess.STDOUT) != 0:
                    raise ServerUnavailable(f"could not install the MLflow server ({' '.join(step[:3])}…); see {log}")
        marker.write_text(MLFLOW_VERSION)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MlflowServer:
    url: str
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # the server and its uvicorn worker
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_server(root: Path | None = None, *, timeout: float = 120.0) -> MlflowServer:
    exe = ensure_server_venv()
    root = Path(root or tempfile.mkdtemp(prefix="ll-mlflow-"))
    (root / "artifacts").mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [str(exe), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--default-artifact-root", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    server = MlflowServer(f"http://127.0.0.1:{port}", root, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(f"mlflow server exited with {process.returncode}; see {root / 'server.log'}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise ServerUnavailable(f"mlflow server did not answer within {timeout:.0f} s; see {root / 'server.log'}")
