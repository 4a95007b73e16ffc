"""The MLflow area's fixtures: a real MLflow server (tests/support/mlflow_server.py) for the session."""
from __future__ import annotations

import pytest

from tests.support.mlflow_server import ServerUnavailable, start_server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One server per test session (each test names its own experiments and models to stay apart)."""
    try:
        server = start_server(tmp_path_factory.mktemp("mlflow-server"))
    except ServerUnavailable as exc:
        pytest.skip(f"no real MLflow server: {exc}")
    yield server
    server.stop()
