"""The service judges strict 2-0-2 conformance with openlineage-python's generated classes (it cannot
read the spec at run time); here that judgement is checked against the spec's own JSON schemas and the
fixtures' recorded verdicts, for every fixture file (complete, template and docs alike)."""
from __future__ import annotations

import json

import jsonschema
import jsonschema_rs
import pytest

from lineage.ingest.events import kind_from_schema_url
from lineage.ingest.strict import judge
from tests.conftest import shared_fixture


@pytest.fixture(scope="module")
def corpus():
    folder = shared_fixture("openlineage")
    verdicts = json.loads((folder / "validation.json").read_text())
    events = {v["file"]: json.loads((folder / "events" / v["file"]).read_text()) for v in verdicts}
    schema = json.loads((folder / "spec" / "OpenLineage.json").read_text())
    return verdicts, events, schema


def _kind(event) -> str:
    return kind_from_schema_url(event.get("schemaURL")) if isinstance(event, dict) else "RunEvent"


def test_judgement_matches_the_recorded_strict_verdict_for_every_file(corpus):
    verdicts, events, _schema = corpus
    assert len(verdicts) == 165
    mismatches = [
        (v["file"], v["strict_ok"], judge(events[v["file"]], _kind(events[v["file"]])))
        for v in verdicts
        if (not judge(events[v["file"]], _kind(events[v["file"]]))) != v["strict_ok"]
    ]
    assert mismatches == []
    assert sum(1 for v in verdicts if v["strict_ok"]) == 48


def test_judgement_matches_the_json_schema_with_formats_asserted(corpus):
    _verdicts, events, schema = corpus
    # python-jsonschema without rfc3339-validator cannot assert date-time; jsonschema-rs asserts all
    # formats. The core structure is checked by both, formats by the Rust one.
    structural = jsonschema.Draft202012Validator(schema)
    with_formats = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    for name, event in events.items():
        ours = not judge(event, _kind(event))
        assert ours == with_formats.is_valid(event), (name, judge(event, _kind(event)))
        if ours:
            assert structural.is_valid(event), name


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda e: e.pop("schemaURL"), "'schemaURL' is a required property"),
        (lambda e: e.update(eventTime="2024-01-01T00:00:00"), "is not a 'date-time'"),
        (lambda e: e["run"].update(runId="not-a-uuid"), "is not a 'uuid'"),
        (lambda e: e["run"].update(runId="0123456789abcdef0123456789abcdef"), "is not a 'uuid'"),
        (lambda e: e.update(eventType="FINISHED"), "is not one of"),
        (lambda e: e["job"].pop("namespace"), "'namespace' is a required property"),
        (lambda e: e["run"].update(facets={"custom": {"x": 1}}), "'_producer' is a required property"),
        (lambda e: e.update(producer="not a uri"), "is not a 'uri'"),
        (lambda e: e["job"].update(facets={"jobType": {"_producer": "https://x", "_schemaURL": "https://y", "_deleted": None}}),
         "None is not of type 'boolean'"),
        (lambda e: e.update(inputs={"namespace": "a"}), "is not of type 'array'"),
    ],
)
def test_each_strict_rule_names_what_failed(mutate, expected, corpus):
    _verdicts, events, schema = corpus
    event = json.loads(json.dumps(events["002_ol_client_python_tests_example_full_event.json"]))
    assert judge(event, "RunEvent") == []
    mutate(event)
    errors = judge(event, "RunEvent")
    assert any(expected in error for error in errors), errors
    assert not jsonschema_rs.Draft202012Validator(schema, validate_formats=True).is_valid(event)


def test_kind_comes_from_the_schema_url_fragment():
    assert kind_from_schema_url("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent") == "JobEvent"
    assert kind_from_schema_url("https://openlineage.io/spec/1-0-1/OpenLineage.json#/definitions/DatasetEvent") == "DatasetEvent"
    assert kind_from_schema_url("https://openlineage.io/spec/2-0-2/OpenLineage.json") == "RunEvent"
    assert kind_from_schema_url(None) == "RunEvent"
