"""Fixtures shared by the Kubeflow end-to-end and fault tests: a generated ML Metadata store and the fake
KFP API serving it (plus KFP's own test objects), and the connector settings that point at both."""
import pytest

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer, KfpState, load_proto_testdata
from tests.conftest import shared_fixture


@pytest.fixture
def source(tmp_path):
    return demo.generate(tmp_path / "mlmd.sqlite")


@pytest.fixture
def server(source):
    state = KfpState()
    state.load(source)
    load_proto_testdata(state, shared_fixture("kfp", "proto_testdata", "generated-1791485"))
    srv = FakeKfpServer(state).start()
    yield srv
    srv.stop()


def settings_for(server, source, **extra):
    """Small pages on both sides, so every harvest crosses several page boundaries."""
    return {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "instance": "test", "api_page_size": 2,
            "mlmd_page_size": 4, **extra}
