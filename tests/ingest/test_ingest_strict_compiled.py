"""The compiled strict judgement (the 2-0-2 schema shipped with the service, compiled by jsonschema-rs)
gives the verdicts the walk through openlineage-python's classes gave, on the shared corpus and on
variations of it, and a rejected event is still explained in words."""
from __future__ import annotations

import copy
import json
import random

import pytest

from devtools.ingest_demo import generate_events
from lineage.ingest import strict
from lineage.ingest.events import kind_from_schema_url
from tests.conftest import shared_fixture


def _kind(event) -> str:
    return kind_from_schema_url(event.get("schemaURL")) if isinstance(event, dict) else "RunEvent"


@pytest.fixture(scope="module")
def corpus() -> list:
    folder = shared_fixture("openlineage", "events")
    events = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [e for e in events if isinstance(e, dict)]


def test_the_shipped_schema_is_the_published_2_0_2_core_schema():
    shipped = json.loads(strict.SPEC.read_text())
    assert shipped["$id"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    assert shipped == json.loads(shared_fixture("openlineage", "spec", "OpenLineage.json").read_text())


def _variants(event: dict, rng: random.Random):
    """The event, and the event with one value somewhere in it dropped, nulled or retyped."""
    yield event
    paths = []

    def collect(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                paths.append(path + (key,))
                collect(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                paths.append(path + (index,))
                collect(item, path + (index,))

    collect(event, ())
    for path in rng.sample(paths, min(8, len(paths))):
        for change in ("drop", None, 7, "text", [], {}):
            variant = copy.deepcopy(event)
            parent = variant
            for step in path[:-1]:
                parent = parent[step]
            if change == "drop":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(change)
            yield variant


def test_compiled_and_walked_verdicts_agree_on_the_corpus_and_its_variations(corpus):
    rng = random.Random(18)
    events = corpus + generate_events(5, 6)
    judged = disagreements = rejected = 0
    for event in events:
        for variant in _variants(event, rng):
            kind = _kind(variant) if isinstance(variant.get("schemaURL"), str) else "RunEvent"
            compiled_ok = strict.compiled(kind).is_valid(variant)
            walked_ok = not strict.walk(variant, kind)
            judged += 1
            rejected += not compiled_ok
            if compiled_ok != walked_ok:
                disagreements += 1
                print("disagree:", kind, compiled_ok, strict.walk(variant, kind)[:3])
            assert (strict.judge(variant, kind) == []) == compiled_ok
    assert judged > 5000 and rejected > 1000
    assert disagreements == 0


def test_a_rejection_the_walk_cannot_explain_gets_the_schema_s_own_words(monkeypatch):
    event = next(e for e in generate_events(1, 1) if "run" in e and "job" in e)
    event["run"]["runId"] = "not-a-uuid"
    assert any("is not a 'uuid'" in error for error in strict.judge(event, "RunEvent"))
    monkeypatch.setattr(strict, "walk", lambda body, kind: [])
    errors = strict.judge(event, "RunEvent")
    assert errors and all(error.startswith("$.run.runId: ") for error in errors), errors
    assert "uuid" in errors[0]
