"""The Kubeflow area's fixtures: a generated ML Metadata store and the fake KFP API serving it (plus KFP's own
test objects), for the end-to-end and fault tests; tests.support.kubeflow.settings_for points a harvest at both."""
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
