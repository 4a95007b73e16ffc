"""A connector plugin that exists only for tests of the shared harvest code: no server, items listed in its
settings, its own partitioning hooks and an OpenLineage hook that counts. Registered by a test with
`monkeypatch.setitem(registry.PLUGINS, "dummy", "tests.support.dummy_connector")`."""
from __future__ import annotations

from connectors.base import Page
from lineage import store

KIND = "dummy"
EMITTED: list[int] = []  # harvest ids the OpenLineage hook was called for


class DummyConnector:
    kind = KIND

    def __init__(self, settings: dict):
        self.items = list(settings.get("items") or [])
        self.bad = set(settings.get("bad") or [])
        self.partitioned = False

    def source_key(self) -> str:
        return "dummy:local"

    def facts(self, item):
        key = store.NodeKey(KIND, "dataset", f"local/{item}")
        return [store.NodeFact(key=key, name=item, properties={"item": item})]

    def changes_since(self, cursor):
        done = set((cursor or {}).get("done") or [])
        items = [i for i in self.items if i in self.bad] if self.partitioned else self.items
        for item in items:
            if item in done:
                continue
            if item in self.bad:
                yield Page([], {"done": sorted(done)}, {"items": 1},
                           warnings=[{"object": f"item {item}", "reason": "404 not found"}])
                continue
            done.add(item)
            yield Page(self.facts(item), {"done": sorted(done)}, {"items": 1})


def validate(settings, secrets):
    if not isinstance(settings.get("items", []), list):
        raise ValueError("items must be a list")


def from_config(config):
    validate(config.settings, {})
    return DummyConnector(config.settings)


def from_options(options):
    return DummyConnector({"items": ["a", "b"]})


def add_arguments(parser):
    pass


def plan_partitions(connector, cursor_before, **sizes):
    """Every item its own partition, the rest partition left with nothing."""
    done = set(cursor_before.get("done") or [])
    specs = [{"part": "items", "items": [i]} for i in connector.items if i not in done and i not in connector.bad]
    return specs, {"items": "partitioned"}, {"planned": [s["items"][0] for s in specs]}


def prepare_rest_partition(connector, spec):
    if spec.get("items") == "partitioned":
        connector.partitioned = True


def run_partition(connector, spec, apply_pages, atomically, progress=None):
    facts = [f for item in spec["items"] for f in connector.facts(item)]
    totals = atomically(lambda: store.apply(facts))
    return totals, {"items": len(spec["items"])}, [], 1, []


def finish_cursor(cursor, parts):
    return {**cursor, "done": sorted({*(cursor.get("done") or []), *parts.get("planned", [])})}


def emit_openlineage(harvest, **kwargs) -> int:
    EMITTED.append(harvest.pk)
    return len(harvest.counts.get("partitions", {}).get("planned", [])) or 1
