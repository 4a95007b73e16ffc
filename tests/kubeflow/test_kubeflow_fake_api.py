"""The fake KFP API behaves as the v2beta1 swagger and KFP's server say, seen through the real kfp.Client:
healthz, page tokens, page_size clamping, filters, sort_by, int64 as strings, googleRpcStatus errors."""
import json

import kfp
import kfp_server_api
import pytest
import requests

from devtools.kubeflow.fake_api import FakeKfpServer, KfpState, load_proto_testdata
from tests.conftest import shared_fixture

SWAGGER = ("kfp", "swagger", "kfp_api_single_file.swagger.json")


def _run(i, **extra):
    return {"run_id": f"run-{i:04d}", "display_name": f"run {i}", "experiment_id": "exp-1",
            "created_at": f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z",
            "state": "SUCCEEDED" if i % 3 else "FAILED", "storage_state": "AVAILABLE",
            "run_details": {"pipeline_context_id": str(10_000_000_000 + i),
                            "task_details": [{"task_id": f"t{i}", "execution_id": str(2**40 + i)}]}, **extra}


@pytest.fixture(scope="module")
def server():
    state = KfpState()
    state.runs = [_run(i) for i in range(450)]
    load_proto_testdata(state, shared_fixture("kfp", "proto_testdata", "generated-1791485"))
    srv = FakeKfpServer(state).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kfp_client(server):
    return kfp.Client(host=server.url)


def test_swagger_lists_the_paths_we_serve():
    spec = json.loads(shared_fixture(*SWAGGER).read_text())
    for path in ("/apis/v2beta1/healthz", "/apis/v2beta1/runs", "/apis/v2beta1/runs/{run_id}",
                 "/apis/v2beta1/pipelines", "/apis/v2beta1/pipelines/{pipeline_id}/versions",
                 "/apis/v2beta1/experiments"):
        assert "get" in spec["paths"][path], path


def test_paging_with_tokens_covers_everything_once(kfp_client):
    seen, token, pages = [], "", 0
    while True:
        page = kfp_client.list_runs(page_token=token, page_size=1000, sort_by="created_at")
        pages += 1
        seen += [r.run_id for r in page.runs]
        if pages == 1:
            assert len(page.runs) == 200  # page_size above 200 is clamped
            assert page.total_size == 452
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 452


def test_default_page_size_and_negative_size(server, kfp_client):
    assert len(kfp_client.list_runs(page_size=0).runs) == 20
    response = requests.get(server.url + "/apis/v2beta1/runs", params={"page_size": -1}, timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == 3 and "page size" in response.json()["message"].lower()


def test_filter_and_sort(kfp_client):
    flt = json.dumps({"predicates": [{"key": "state", "operation": "EQUALS", "string_value": "FAILED"},
                                     {"key": "created_at", "operation": "GREATER_THAN_EQUALS",
                                      "timestamp_value": "2026-01-01T07:00:00Z"}]})
    runs = kfp_client.list_runs(page_size=200, sort_by="created_at desc", filter=flt).runs
    assert runs and all(r.state == "FAILED" for r in runs)
    times = [r.created_at for r in runs]
    assert times == sorted(times, reverse=True) and min(times).hour >= 7
    camel = json.dumps({"predicates": [{"key": "run_id", "operation": "IN",
                                        "stringValues": {"values": ["run-0001", "run-0002"]}}]})
    assert {r.run_id for r in kfp_client.list_runs(filter=camel).runs} == {"run-0001", "run-0002"}


def test_token_must_match_its_filter(server, kfp_client):
    first = kfp_client.list_runs(page_size=5, sort_by="created_at")
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.list_runs(page_token=first.next_page_token, page_size=5, sort_by="display_name")
    assert caught.value.status == 400
    assert "page token does not match" in json.loads(caught.value.body)["message"]


def test_int64_fields_are_strings_on_the_wire(server, kfp_client):
    body = requests.get(server.url + "/apis/v2beta1/runs/run-0007", timeout=5).json()
    assert body["run_details"]["pipeline_context_id"] == "10000000007"
    assert body["run_details"]["task_details"][0]["execution_id"] == str(2**40 + 7)
    run = kfp_client.get_run("run-0007")
    assert int(run.run_details.pipeline_context_id) == 10_000_000_007


def test_testdata_objects_and_not_found(kfp_client):
    failed = kfp_client.get_run("failed-run-456")
    assert failed.state == "FAILED" and failed.error.message == "This was a Failed Run."
    assert kfp_client.list_pipelines().pipelines[0].pipeline_id == "9b187b86-7c0a-42ae-a0bc-2a746b6eb7a3"
    versions = kfp_client.list_pipeline_versions("9b187b86-7c0a-42ae-a0bc-2a746b6eb7a3").pipeline_versions
    assert versions[0].pipeline_spec["pipelineInfo"]["name"] == "pipeline-hello-world"
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.get_run("no-such-run")
    assert caught.value.status == 404 and json.loads(caught.value.body)["code"] == 5


def test_unpopulated_fields_are_not_emitted(server):
    body = requests.get(server.url + "/apis/v2beta1/runs/failed-run-456", timeout=5).json()
    assert "runtime_config" not in body and "run_details" not in body and "recurring_run_id" not in body


def test_fault_injection(server, kfp_client):
    fault = server.inject(r"/experiments$", status=503, times=1)
    with pytest.raises(kfp_server_api.ApiException) as caught:
        kfp_client.list_experiments()
    assert caught.value.status == 503 and fault.times == 0
    assert kfp_client.list_experiments().experiments[0].experiment_id == "exp-456"
