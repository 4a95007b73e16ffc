"""ML Metadata over gRPC, as production KFP exposes it (metadata-grpc-service): the connector's
`mlmd_host`/`mlmd_port` path against a real gRPC server speaking MLMD's MetadataStoreService protocol.

The pip package ships no metadata_store_server binary, so the test serves the protocol itself: every RPC is
forwarded to ml-metadata's own store library over the demo SQLite file. UNAVAILABLE answers injected into
that server show the connector retrying gRPC failures.
"""
from concurrent import futures

import grpc
import pytest
from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2, metadata_store_service_pb2_grpc

from devtools.kubeflow import demo
from devtools.kubeflow.testing import harvest, snapshot
from connectors.models import Harvest
from lineage.models import Edge, Node, NodeRevision, RawRecord

pytestmark = pytest.mark.django_db


class ForwardingServicer:
    """Answers each MetadataStoreService RPC with ml-metadata's library on a local store."""

    def __init__(self, store):
        self.store = store
        self.unavailable = 0  # answer this many next calls with UNAVAILABLE
        self.calls = []


def _make_servicer(store):
    servicer = ForwardingServicer(store)
    service = metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"]
    base = metadata_store_service_pb2_grpc.MetadataStoreServiceServicer
    methods = {}
    for method in service.methods:
        def handler(self, request, context, _name=method.name):
            servicer.calls.append(_name)
            if servicer.unavailable > 0:
                servicer.unavailable -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "injected: metadata-grpc-service restarting")
            response = getattr(metadata_store_service_pb2, _name + "Response")()
            try:
                servicer.store._call(_name, request, response)
            except errors.StatusError as exc:
                context.abort(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == exc.error_code)),
                              str(exc))
            return response
        methods[method.name] = handler
    instance = type("Servicer", (base,), methods)()
    return servicer, instance


@pytest.fixture
def grpc_source(tmp_path):
    source = demo.generate(tmp_path / "mlmd.sqlite")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(source.mlmd_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    servicer, instance = _make_servicer(metadata_store.MetadataStore(config))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    metadata_store_service_pb2_grpc.add_MetadataStoreServiceServicer_to_server(instance, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield source, servicer, port
    server.stop(grace=None)


def _wipe():
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()


def test_grpc_harvest_equals_the_direct_sqlite_harvest(grpc_source):
    source, servicer, port = grpc_source
    over_grpc = harvest({"mlmd_host": "127.0.0.1", "mlmd_port": port, "instance": "g", "mlmd_page_size": 3})
    assert over_grpc.status == "succeeded"
    assert over_grpc.source_key.endswith(f"mlmd-grpc:127.0.0.1:{port}")
    assert "GetExecutions" in servicer.calls and "GetEventsByExecutionIDs" in servicer.calls
    grpc_store = snapshot()
    _wipe()
    direct = harvest({"mlmd_sqlite": str(source.mlmd_path), "instance": "g", "mlmd_page_size": 3})
    assert direct.status == "succeeded"
    assert snapshot() == grpc_store
    assert Node.objects.filter(source_id=f"g/artifact/{source.artifacts['model#1']}", kind="model_version").exists()


def test_grpc_unavailable_is_retried(grpc_source):
    _, servicer, port = grpc_source
    servicer.unavailable = 2
    result = harvest({"mlmd_host": "127.0.0.1", "mlmd_port": port, "instance": "g"})
    assert result.status == "succeeded" and servicer.unavailable == 0
    assert result.counts["read"]["executions"] == 18


def test_grpc_down_for_good_fails_with_a_record(grpc_source):
    _, servicer, port = grpc_source
    servicer.unavailable = 1000
    with pytest.raises(Exception, match="UnavailableError|failed 4 times"):
        harvest({"mlmd_host": "127.0.0.1", "mlmd_port": port, "instance": "g"})
    record = Harvest.objects.get()
    assert record.status == "failed" and "metadata-grpc-service restarting" in record.error
