"""Shared by the Marquez API tests: the OpenLineage corpus to ingest, and Marquez's own OpenAPI description
as a response validator.

The validator reads ../shared/fixtures/marquez/openapi.yml as it is and applies only these corrections, each
where Marquez's description disagrees with what Marquez itself answers (a strict reading would refuse
Marquez's own responses):
- GraphNode.data: the discriminator on `type` is dropped and oneOf read as anyOf (the fixture README's note:
  Marquez answers the dataset's or job's own type there);
- NodeType also holds DATASET_FIELD: Marquez's column-lineage graph is a LineageGraph of field nodes, and its
  NodeType enum (marquez.service.models.NodeType) has that value; the description omits it;
- FacetsResult.facets is a map of facets (the description types the map itself as one facet);
- InputDatasetVersion / OutputDatasetVersion facets map to facet objects (the description says strings);
- DatasetVersion.tags is an array of strings ("List of tags", and its own example answers `tags: []`; the
  description types it as one string);
- `type:` left empty (SearchResult name, updatedAt) means no type constraint.
Nullability is not relaxed: no field is declared nullable, so an answer must leave out what it does not know.
"""
from __future__ import annotations

import copy
import json
import re

import yaml
from jsonschema import Draft202012Validator

from tests.conftest import shared_fixture


def complete_events() -> list[dict]:
    """Every corpus event meant to be posted whole that Marquez would accept (the lenient verdict)."""
    folder = shared_fixture("openlineage")
    verdicts = json.loads((folder / "validation.json").read_text())
    return [json.loads((folder / "events" / v["m"]["file"]).read_text())
            for v in verdicts if v["m"]["kind"] == "complete" and v["lenient_ok"]]


def ingest(client, events) -> None:
    for event in events:
        response = client.post("/api/v1/lineage", event, format="json")
        assert response.status_code == 201, response.content


def _fix(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    data = schemas["GraphNode"]["properties"]["data"]
    data.pop("discriminator", None)
    data["anyOf"] = data.pop("oneOf")
    schemas["NodeType"]["enum"] = [*schemas["NodeType"]["enum"], "DATASET_FIELD"]
    schemas["FacetsResult"]["properties"]["facets"] = {
        "type": "object", "additionalProperties": {"$ref": "#/components/schemas/CustomFacet"}}
    for name in ("InputDatasetVersion", "OutputDatasetVersion"):
        schemas[name]["properties"]["facets"]["additionalProperties"] = {"$ref": "#/components/schemas/CustomFacet"}

    schemas["DatasetVersion"]["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}

    def drop_empty_types(node):
        if isinstance(node, dict):
            if "type" in node and node["type"] is None:
                del node["type"]
            for value in node.values():
                drop_empty_types(value)
        elif isinstance(node, list):
            for value in node:
                drop_empty_types(value)

    drop_empty_types(spec)
    return spec


class MarquezSchema:
    def __init__(self):
        path = shared_fixture("marquez", "openapi.yml")
        self.spec = _fix(yaml.safe_load(path.read_text()))
        self.templates = [(t, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$")) for t in self.spec["paths"]]

    def response_schema(self, template: str, method: str = "get", status: str = "200") -> dict:
        responses = self.spec["paths"][template][method]["responses"]
        answer = responses.get(status) or responses.get(int(status))
        return answer["content"]["application/json"]["schema"]

    def errors(self, template: str, body, method: str = "get", status: str = "200") -> list[str]:
        schema = {**self.response_schema(template, method, status), "components": self.spec["components"]}
        validator = Draft202012Validator(schema)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)][:10]

    def check(self, template: str, body, **kwargs) -> None:
        found = self.errors(template, body, **kwargs)
        assert not found, f"{template}: {found}"


PRODUCER = "https://example.com/lineage-ledger-tests"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
DB = "postgres://db:5432"


def _facet(kind: str, **body) -> dict:
    return {"_producer": PRODUCER, "_schemaURL": f"https://openlineage.io/spec/facets/1-0-0/{kind}.json", **body}


def _dataset(name: str, fields: dict, lineage: dict | None = None) -> dict:
    """`fields`: name -> type; `lineage`: output field -> [(input dataset, input field)]."""
    facets = {"schema": _facet("SchemaDatasetFacet", fields=[{"name": f, "type": t} for f, t in fields.items()])}
    if lineage:
        facets["columnLineage"] = _facet("ColumnLineageDatasetFacet", fields={
            out: {"inputFields": [{"namespace": DB, "name": ds, "field": f} for ds, f in ins],
                  "transformationType": "IDENTITY", "transformationDescription": "copied"}
            for out, ins in lineage.items()})
    return {"namespace": DB, "name": name, "facets": facets}


def event(event_type: str, job: str, run_id: str, when: str, inputs=(), outputs=(), job_facets=None) -> dict:
    return {"eventType": event_type, "eventTime": when, "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
            "run": {"runId": run_id}, "job": {"namespace": "etl", "name": job, "facets": job_facets or {}},
            "inputs": [{"namespace": DB, "name": n} for n in inputs], "outputs": list(outputs)}


def pipeline(runs: dict[str, str]) -> list[dict]:
    """extract -> public.raw -> clean -> public.clean -> report -> public.report, with schema and column
    lineage facets, a `tags` facet on clean, and report's run failing. `runs`: job name -> run id."""
    raw = _dataset("public.raw", {"id": "INTEGER", "amount": "DECIMAL"})
    clean = _dataset("public.clean", {"id": "INTEGER", "amount_usd": "DECIMAL"},
                     {"id": [("public.raw", "id")], "amount_usd": [("public.raw", "amount")]})
    report = _dataset("public.report", {"total": "DECIMAL"}, {"total": [("public.clean", "amount_usd")]})
    tags = {"tags": _facet("TagsJobFacet", tags=[{"key": "pii", "value": "true", "source": "USER"}])}
    steps = [("etl.extract", (), raw, "COMPLETE", None), ("etl.clean", ("public.raw",), clean, "COMPLETE", tags),
             ("etl.report", ("public.clean",), report, "FAIL", None)]
    out = []
    for i, (job, inputs, output, end, job_facets) in enumerate(steps):
        out.append(event("START", job, runs[job], f"2024-06-01T10:{2 * i:02d}:00Z", inputs, [output], job_facets))
        out.append(event(end, job, runs[job], f"2024-06-01T10:{2 * i + 1:02d}:00Z", inputs, [output], job_facets))
    return out
