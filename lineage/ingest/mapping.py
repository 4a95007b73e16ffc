"""How an OpenLineage event becomes lineage facts. Read this before reading the graph it builds.

All nodes and edges below have `source = "openlineage"`. Edges follow the DIRECTION RULE of
lineage/kinds.py: they point downstream (src is upstream of dst). Look nodes up by (kind, namespace,
name) or (kind, source_id) — never parse `source_id`, since OpenLineage namespaces contain colons
(`postgres://db:5432`).

Nodes
-----
=================  =======================  ==============  ====================================================
kind               source_id                namespace/name  properties
=================  =======================  ==============  ====================================================
job                "<ns>:<name>"            job ns / name   facets, facet_times; from JobEvents also
                                                            declared_inputs / declared_outputs (lists of
                                                            "<ns>:<name>") and declared_at
run                "<runId>" (as given,     job ns / runId  job {namespace, name}, run_id, state, state_time,
                   UUID or not)                             event_times {START: t, COMPLETE: t…}, started_at,
                                                            ended_at, nominal_start_time, nominal_end_time,
                                                            parent {run_id, job {namespace, name}} (from the
                                                            parent facet), facets, facet_times, input_facets
                                                            {"<ns>:<name>": {facet…}}, input_facet_times
dataset            "<ns>:<name>"            dataset ns/name facets, facet_times (schema, columnLineage,
                                                            symlinks, dataSource… — every dataset facet seen
                                                            in inputs, outputs and DatasetEvents)
dataset_version    "<ns>:<name>@<runId>"    dataset ns/name dataset {namespace, name}, run_id, facets,
                                                            facet_times, output_facets, output_facet_times
                                                            (one version per producing run)
=================  =======================  ==============  ====================================================

Times (`state_time`, `event_times`, `*_at`, `facet_times`) are UTC ISO 8601 strings with microseconds
(`2024-01-01T00:00:00.000000+00:00`), so they compare as strings. `display_name` of a run is
"<job name> <runId>", of a dataset version "<name>@<runId>". A node's `first_seen` / `last_seen` are
the earliest / latest eventTime that named it.

Edges (src -kind-> dst)
-----------------------
RunEvent:
- job -instance_of-> run
- parent run facet (run.facets.parent with run.runId and job): parent job -instance_of-> parent run,
  parent run -parent_of-> run. The parent run node exists from then on even if no event of its own
  ever arrives (its properties then hold only job and run_id).
- each output: run -produced-> dataset_version, dataset_version -version_of-> dataset.
- each input: <version> -consumed-> run, where <version> is the dataset's latest dataset_version
  (produced by another run) whose first_seen is at or before this event's eventTime, as stored when the
  event is ingested; when the dataset has no such version yet, the dataset node itself: dataset -consumed-> run.
JobEvent (a job's design-time lineage, with no run):
- each input: dataset -consumed-> job; each output: job -produced-> dataset. The newest JobEvent (by
  eventTime) declares the job's current inputs and outputs: job-level edges to datasets it no longer
  lists are closed at its eventTime (an older JobEvent arriving late adds its edges as already closed).
DatasetEvent: the dataset node only (its facets merged into the dataset's properties).

Every edge's `valid_from` is the earliest eventTime that stated it, `last_seen` the latest.

Deriving the Marquez graph (datasets and jobs)
----------------------------------------------
- job J's outputs: J -instance_of-> R -produced-> V -version_of-> D gives D; plus J -produced-> D.
- job J's inputs: V -consumed-> R with V -version_of-> D, or D -consumed-> R, for runs R of J; plus
  D -consumed-> J.
- Marquez's `job:NS:NAME` is the job node with namespace NS and name NAME; `dataset:NS:NAME` the dataset node.
- A job's latest run is the run with the greatest `state_time` (or `last_seen`) among its instance_of edges.

Out-of-order safety
-------------------
Events of a run may arrive in any order (COMPLETE before START) and end in the same state:
- run `state` is the eventType with the latest eventTime (ties: terminal > OTHER > RUNNING > START; OTHER
  never changes state, as in Marquez); `event_times` keeps the latest time per eventType;
- facets merge per facet name: the value from the latest eventTime wins (`facet_times` records which);
- edges only move `valid_from` earlier and `last_seen` later (lineage.store).
Properties here are computed from the node's stored properties plus the event, read under a row lock in
the same transaction (lineage.store.load_nodes(lock=True)), and written back whole.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import orjson
from django.db import connection, connections
from django.db.models.base import ModelState

from lineage.ingest.canonical import has_long_number
from lineage.ingest.events import DatasetRef, ParsedEvent
from lineage.ingest.models import EventKind
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Node
from lineage.store import EdgeClose, EdgeFact, NodeFact, NodeKey, RawPayload, load_nodes

OL = Source.OPENLINEAGE.value
TERMINAL = ("COMPLETE", "ABORT", "FAIL")
STATE_RANK = {"START": 0, "RUNNING": 1, "COMPLETE": 3, "ABORT": 3, "FAIL": 3}
# The enums' values as plain module constants: an enum member's `.value` is a descriptor lookup (about half
# a microsecond), and the mapping reads them some thirty times per event.
_EDGEKIND_CONSUMED = EdgeKind.CONSUMED.value
_EDGEKIND_INSTANCE_OF = EdgeKind.INSTANCE_OF.value
_EDGEKIND_PARENT_OF = EdgeKind.PARENT_OF.value
_EDGEKIND_PRODUCED = EdgeKind.PRODUCED.value
_EDGEKIND_VERSION_OF = EdgeKind.VERSION_OF.value
_EVENTKIND_DATASET = EventKind.DATASET.value
_EVENTKIND_JOB = EventKind.JOB.value
_EVENTKIND_RUN = EventKind.RUN.value
_NODEKIND_DATASET = NodeKind.DATASET.value
_NODEKIND_DATASET_VERSION = NodeKind.DATASET_VERSION.value
_NODEKIND_JOB = NodeKind.JOB.value
_NODEKIND_RUN = NodeKind.RUN.value
# How many recent versions per input dataset one query brings back before falling back to a precise query.
VERSION_WINDOW = 8
# Input datasets whose versions one query reads.
VERSIONS_PER_QUERY = 200


def job_key(namespace: str, name: str) -> NodeKey:
    return NodeKey(OL, _NODEKIND_JOB, f"{namespace}:{name}")


def run_key(run_id: str) -> NodeKey:
    return NodeKey(OL, _NODEKIND_RUN, run_id)


def dataset_key(namespace: str, name: str) -> NodeKey:
    return NodeKey(OL, _NODEKIND_DATASET, f"{namespace}:{name}")


def version_key(namespace: str, name: str, run_id: str) -> NodeKey:
    return NodeKey(OL, _NODEKIND_DATASET_VERSION, f"{namespace}:{name}@{run_id}")


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def merge_timed(props: dict, bucket: str, new: dict, when: str) -> None:
    """Merge `new` into props[bucket] keeping, per key, the value with the latest time (ties: the larger
    canonical JSON, so that the result never depends on arrival order)."""
    if not new:
        return
    values = dict(props.get(bucket) or {})
    times = dict(props.get(_times_name(bucket)) or {})
    for name, value in new.items():
        old_time = times.get(name)
        if old_time is None or when > old_time or (
            when == old_time and _canon(value) > _canon(values.get(name))
        ):
            values[name] = value
            times[name] = when
    props[bucket] = values
    props[_times_name(bucket)] = times


def _times_name(bucket: str) -> str:
    return {"facets": "facet_times", "output_facets": "output_facet_times"}.get(bucket, bucket + "_times")


def _job_ref(event_or_facet) -> dict:
    return {"namespace": event_or_facet["namespace"], "name": event_or_facet["name"]}


def _parent(facets: dict) -> tuple[str, dict] | None:
    """(parent run id, parent job) from a parent run facet, when it names both."""
    parent = facets.get("parent")
    if not isinstance(parent, dict):
        return None
    run, job = parent.get("run"), parent.get("job")
    if not (isinstance(run, dict) and isinstance(job, dict)):
        return None
    run_id, ns, name = run.get("runId"), job.get("namespace"), job.get("name")
    if not all(isinstance(v, str) and v for v in (run_id, ns, name)):
        return None
    if len(run_id) > 255 or len(ns) + len(name) > 700:
        return None  # too long to be a node id; the facet itself is still kept in the run's properties
    return run_id, {"namespace": ns, "name": name}


def _derive_run(props: dict) -> None:
    times = props.get("event_times") or {}
    props["started_at"] = times.get("START")
    ends = [times[t] for t in TERMINAL if t in times]
    props["ended_at"] = max(ends) if ends else None
    facets = props.get("facets") or {}
    nominal = facets.get("nominalTime") if isinstance(facets.get("nominalTime"), dict) else {}
    props["nominal_start_time"] = nominal.get("nominalStartTime")
    props["nominal_end_time"] = nominal.get("nominalEndTime")
    parent = _parent(facets)
    props["parent"] = {"run_id": parent[0], "job": parent[1]} if parent else None


class Mapper:
    """Maps a sequence of accepted events (one post or one batch) to facts for one `store.apply`.

    `preload()` reads — and locks — every node the events touch, so the properties merged here are the
    ones in the database; later events in the same sequence see the merges of earlier ones.
    """

    def __init__(self, events: list[ParsedEvent]):
        self.events = events
        self.nodes: dict[NodeKey, Node | None] = {}
        self.props: dict[NodeKey, dict] = {}
        # (ns, name) -> [(first_seen iso, version source_id)], newest first, from the database
        self.stored_versions: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.window_full: set[tuple[str, str]] = set()
        # version source_id -> (node id, (ns, name), first_seen) for the stored versions read above
        self.version_ids: dict[str, tuple] = {}
        # versions this sequence creates, visible to the events after it
        self.new_versions: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)

    # -- loading --------------------------------------------------------------------------------------
    def keys(self) -> set[NodeKey]:
        keys: set[NodeKey] = set()
        for e in self.events:
            if e.kind == _EVENTKIND_DATASET:
                keys.add(dataset_key(e.dataset.namespace, e.dataset.name))
                continue
            keys.add(job_key(e.job_namespace, e.job_name))
            for d in e.inputs + e.outputs:
                keys.add(dataset_key(d.namespace, d.name))
            if e.kind == _EVENTKIND_RUN:
                keys.add(run_key(e.run_id))
                for d in e.outputs:
                    keys.add(version_key(d.namespace, d.name, e.run_id))
                parent = _parent(e.run_facets)
                if parent:
                    keys.add(run_key(parent[0]))
                    keys.add(job_key(parent[1]["namespace"], parent[1]["name"]))
        return keys

    def preload(self, lock: bool = True) -> None:
        """Read (and lock) the nodes the events name, then the stored versions of their input datasets:
        after the locks, so that a version a concurrent event on the same dataset commits meanwhile is
        seen (the dataset's row lock orders the two events)."""
        keys = self.keys()
        found = load_nodes(keys, lock=lock)
        # None marks a key known to be absent, so lineage.store.apply does not look it up again.
        self.nodes = {key: found.get(key) for key in keys}
        self.props = {key: node.properties for key, node in found.items()}
        datasets = self._wanted_datasets()
        if datasets:
            before = self._latest()
            for start in range(0, len(datasets), VERSIONS_PER_QUERY):
                chunk = datasets[start:start + VERSIONS_PER_QUERY]
                sql, params = self._versions_sql(chunk, before)
                with connection.cursor() as cur:
                    cur.execute(sql, params)
                    rows = cur.fetchall()
                self._take_versions(chunk, rows)

    # -- loading in one round trip (PostgreSQL) ----------------------------------------------------------
    def preload_sql(self, also: list[tuple[str, list]] = ()) -> tuple[str, list] | None:
        """What `preload(lock=True)` does, as SQL for ONE round trip: a statement taking the row locks (in
        id order, as load_nodes(lock=True) does), then one statement reading the nodes and the input
        datasets' versions — in READ COMMITTED that second statement's snapshot is taken once the locks
        are granted, so it sees what a writer we waited for committed, as the separate reads did. `also`:
        further node-shaped UNION ALL branches (built with `row_sql`) the caller reads in the same
        statement. None when the events name too many nodes or datasets for one statement (then use
        `preload`). Hand the rows to `take_preload`."""
        keys = self.keys()
        datasets = self._wanted_datasets()
        if not keys or len(keys) > PRELOAD_MAX_KEYS or len(datasets) > VERSIONS_PER_QUERY:
            return None
        table = connection.ops.quote_name(Node._meta.db_table)
        where, where_params = _keys_where(keys)
        parts = [row_sql(0, {column: f"n.{connection.ops.quote_name(column)}" for column in _COLUMNS},
                         f"{table} n WHERE {where}")]
        params = list(where_params)
        if datasets:
            before = self._latest()
            version_columns = {"id": "v.id", "source_id": "v.source_id", "first_seen": "v.first_seen"}
            for i, (ns, name) in enumerate(datasets):
                parts.append(row_sql(
                    1 + i, version_columns,
                    f"(SELECT id, source_id, first_seen FROM {table} WHERE namespace = %s AND name = %s AND kind = %s "
                    f"AND source = %s AND first_seen <= %s ORDER BY first_seen DESC, id DESC LIMIT {VERSION_WINDOW}) v"))
                params += [ns, name, _NODEKIND_DATASET_VERSION, OL, before]
        for sql, more in also:
            parts.append(sql)
            params += more
        lock = f"SELECT 1 FROM {table} WHERE {where} ORDER BY id FOR UPDATE; "
        return lock + " UNION ALL ".join(parts), list(where_params) + params

    def preload_arrays(self) -> tuple[list, list] | None:
        """`preload_sql`'s values as arrays for prepared statements of one text whatever their number
        (lineage.ingest.service._locked_read): the keys' (sources, kinds, source ids), then the input
        datasets' (namespaces, names) in `_wanted_datasets`' order, the kind and source of versions and
        the time no version may be after. None as for `preload_sql`."""
        keys = self._preload_keys = self.keys()
        datasets = self._wanted_datasets()
        if not keys or len(keys) > PRELOAD_MAX_KEYS or len(datasets) > VERSIONS_PER_QUERY:
            return None
        ordered = sorted(keys)
        key_arrays = [[k.source for k in ordered], [k.kind for k in ordered], [k.source_id for k in ordered]]
        before = self._latest() if datasets else None
        version_arrays = [[ns for ns, _ in datasets], [name for _, name in datasets],
                          _NODEKIND_DATASET_VERSION, OL, before]
        return key_arrays, version_arrays

    def take_preload(self, rows) -> list:
        """Take the rows of `preload_sql`'s statement (tag first); returns the `also` rows (tag < 0)."""
        keys = self.__dict__.pop("_preload_keys", None) or self.keys()  # as preload_arrays found them
        found: dict[NodeKey, Node] = {}
        datasets = self._wanted_datasets()
        versions, others = [], []
        converters = _flat_converters()
        alias = connection.alias
        db = connections[alias]  # resolved once: the proxy looks the thread's connection up per attribute
        new, make_state, tuple_new = Node.__new__, ModelState, tuple.__new__  # tuple_new(NodeKey, …): no Python frame
        for row in rows:
            tag = row[0]
            if tag == 0:
                values = list(row[1:])
                for i, conv, f in converters:
                    values[i] = conv(values[i], f, db)
                # What Node.from_db leaves, without Model.__init__'s per-field descriptor work (a third of a
                # millisecond per event, with the row locks held): as lineage.store._instances does.
                node = new(Node)
                node.__dict__.update(zip(_ATTNAMES, values))
                state = make_state()
                state.adding, state.db = False, alias
                node._state = state
                found[tuple_new(NodeKey, (values[_SOURCE], values[_KIND], values[_SOURCE_ID]))] = node
            elif tag > 0:
                versions.append((row[1 + _ID], row[1 + _SOURCE_ID], row[1 + _FIRST_SEEN], tag - 1))
            else:
                others.append(row)
        self.nodes = {key: found.get(key) for key in keys}
        self.props = {key: node.properties for key, node in found.items()}
        if datasets:
            self._take_versions(datasets, versions)
        return others

    def _wanted_datasets(self) -> list[tuple[str, str]]:
        return sorted({(d.namespace, d.name) for e in self.events if e.kind == _EVENTKIND_RUN for d in e.inputs})

    def _latest(self) -> dt.datetime:
        return max(e.event_time for e in self.events)

    def _versions_sql(self, datasets: list[tuple[str, str]], before: dt.datetime) -> tuple[str, list]:
        """The newest VERSION_WINDOW versions of each input dataset, read through the composite index
        (namespace, name, kind, source, first_seen, id) (lineage migrations 0003, 0008): a few index entries per
        dataset, however many versions its history holds. Their ids come along, so that the version an
        input resolves to reaches the store as a known node instead of being looked up again."""
        table = connection.ops.quote_name(Node._meta.db_table)
        parts, params = [], []
        for i, (ns, name) in enumerate(datasets):
            parts.append(
                f"SELECT id, source_id, first_seen, i FROM (SELECT {i} AS i, id, source_id, first_seen FROM {table} "
                f"WHERE namespace = %s AND name = %s AND kind = %s AND source = %s AND first_seen <= %s "
                f"ORDER BY first_seen DESC, id DESC LIMIT {VERSION_WINDOW}) v{i}"
            )
            params += [ns, name, _NODEKIND_DATASET_VERSION, OL, before]
        return " UNION ALL ".join(parts), params

    def _take_versions(self, datasets: list[tuple[str, str]], rows) -> None:
        found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for pk, source_id, first_seen, i in rows:
            pair = datasets[i]
            found[pair].append((iso(_as_datetime(first_seen)), source_id))
            self.version_ids[source_id] = (pk, pair, first_seen)
        for pair in datasets:
            versions = sorted(found.get(pair, []), reverse=True)
            self.stored_versions[pair] = versions
            if len(versions) >= VERSION_WINDOW:
                self.window_full.add(pair)

    def _resolve_input(self, d: DatasetRef, when: str, own_run: str) -> NodeKey:
        pair = (d.namespace, d.name)
        own = version_key(d.namespace, d.name, own_run).source_id
        candidates = [v for v in self.new_versions.get(pair, []) if v[0] <= when and v[1] != own]
        candidates += [v for v in self.stored_versions.get(pair, []) if v[0] <= when and v[1] != own]
        if not candidates and pair in self.window_full:
            row = (
                Node.objects.filter(source=OL, kind=_NODEKIND_DATASET_VERSION, namespace=d.namespace,
                                    name=d.name, first_seen__lte=dt.datetime.fromisoformat(when))
                .exclude(source_id=own).order_by("-first_seen", "-id")
                .values_list("first_seen", "source_id", "id").first()
            )
            if row:
                candidates.append((iso(row[0]), row[1]))
                self.version_ids[row[1]] = (row[2], pair, row[0])
        if not candidates:
            return dataset_key(d.namespace, d.name)
        key = NodeKey(OL, _NODEKIND_DATASET_VERSION, max(candidates)[1])
        if key not in self.nodes and key.source_id in self.version_ids:
            # Only an edge's end: the store needs its id, never its properties (not read, not locked).
            pk, (ns, name), first_seen = self.version_ids[key.source_id]
            # What Node.from_db gives for these fields (the others deferred: read from the database if
            # ever asked for), without Model.__init__, as take_preload builds its nodes.
            node = Node.__new__(Node)
            node.__dict__.update(id=pk, source=OL, kind=_NODEKIND_DATASET_VERSION, source_id=key.source_id,
                                 namespace=ns, name=name, first_seen=_as_datetime(first_seen))
            state = ModelState()
            state.adding, state.db = False, connection.alias
            node._state = state
            self.nodes[key] = node
        return key

    # -- mapping --------------------------------------------------------------------------------------
    def _props(self, key: NodeKey) -> dict:
        return dict(self.props.get(key) or {})

    def facts(self, e: ParsedEvent, raw: RawPayload) -> list:
        if e.kind == _EVENTKIND_DATASET:
            return [self._dataset_fact(e.dataset, e.event_time, raw)]
        if e.kind == _EVENTKIND_JOB:
            return self._job_event(e, raw)
        return self._run_event(e, raw)

    def _node(self, key: NodeKey, props: dict, *, name: str, namespace: str, display_name: str,
              when: dt.datetime, raw: RawPayload | None) -> NodeFact:
        self.props[key] = props
        return NodeFact(key=key, name=name, namespace=namespace, display_name=display_name, properties=props,
                        seen_at=when, raw=raw, replace_properties=True)

    def _dataset_fact(self, d: DatasetRef, when: dt.datetime, raw: RawPayload) -> NodeFact:
        key = dataset_key(d.namespace, d.name)
        props = self._props(key)
        merge_timed(props, "facets", d.facets, iso(when))
        props.setdefault("facets", {})
        props.setdefault("facet_times", {})
        return self._node(key, props, name=d.name, namespace=d.namespace, display_name=d.name, when=when, raw=raw)

    def _job_fact(self, e: ParsedEvent, raw: RawPayload, props: dict | None = None) -> NodeFact:
        key = job_key(e.job_namespace, e.job_name)
        props = props if props is not None else self._props(key)
        merge_timed(props, "facets", e.job_facets, iso(e.event_time))
        props.setdefault("facets", {})
        props.setdefault("facet_times", {})
        return self._node(key, props, name=e.job_name, namespace=e.job_namespace, display_name=e.job_name,
                          when=e.event_time, raw=raw)

    def _run_props(self, key: NodeKey, run_id: str, job: dict, *, own: bool) -> dict:
        props = self._props(key)
        props["run_id"] = run_id
        if own or not props.get("job"):
            props["job"] = job
        props.setdefault("event_times", {})
        props.setdefault("facets", {})
        props.setdefault("facet_times", {})
        props.setdefault("state", None)
        props.setdefault("state_time", None)
        return props

    def _run_event(self, e: ParsedEvent, raw: RawPayload) -> list:
        when = iso(e.event_time)
        t = e.event_time
        jk, rk = job_key(e.job_namespace, e.job_name), run_key(e.run_id)
        facts: list = [self._job_fact(e, raw)]
        props = self._run_props(rk, e.run_id, {"namespace": e.job_namespace, "name": e.job_name}, own=True)
        if e.event_type:
            times = dict(props["event_times"])
            times[e.event_type] = max(times.get(e.event_type, ""), when)
            props["event_times"] = times
            if e.event_type in STATE_RANK:
                candidate = (when, STATE_RANK[e.event_type], e.event_type)
                current = (props.get("state_time") or "", STATE_RANK.get(props.get("state") or "", -1), props.get("state") or "")
                if candidate > current:
                    props["state"], props["state_time"] = e.event_type, when
        merge_timed(props, "facets", e.run_facets, when)
        inputs_with_facets = [d for d in e.inputs if d.io_facets]
        if inputs_with_facets:
            per_input = dict(props.get("input_facets") or {})
            per_input_times = dict(props.get("input_facet_times") or {})
            for d in inputs_with_facets:
                holder = {"facets": per_input.get(d.key, {}), "facet_times": per_input_times.get(d.key, {})}
                merge_timed(holder, "facets", d.io_facets, when)
                per_input[d.key], per_input_times[d.key] = holder["facets"], holder["facet_times"]
            props["input_facets"], props["input_facet_times"] = per_input, per_input_times
        _derive_run(props)
        facts.append(self._node(rk, props, name=e.run_id, namespace=e.job_namespace,
                                display_name=f"{e.job_name} {e.run_id}", when=t, raw=raw))
        facts.append(EdgeFact(_EDGEKIND_INSTANCE_OF, jk, rk, OL, valid_from=t, raw=raw))

        parent = _parent(e.run_facets)
        if parent and parent[0] != e.run_id:
            parent_run, parent_job = parent
            pjk, prk = job_key(parent_job["namespace"], parent_job["name"]), run_key(parent_run)
            if pjk != jk:
                pjob = self._props(pjk)
                pjob.setdefault("facets", {})
                pjob.setdefault("facet_times", {})
                facts.append(self._node(pjk, pjob, name=parent_job["name"], namespace=parent_job["namespace"],
                                        display_name=parent_job["name"], when=t, raw=None))
            # raw=None: the parent's `raw` stays its own event; the edges below carry this one as evidence.
            pprops = self._run_props(prk, parent_run, parent_job, own=False)
            _derive_run(pprops)
            facts.append(self._node(prk, pprops, name=parent_run, namespace=pprops["job"]["namespace"],
                                    display_name=f"{pprops['job']['name']} {parent_run}", when=t, raw=None))
            facts.append(EdgeFact(_EDGEKIND_INSTANCE_OF, pjk, prk, OL, valid_from=t, raw=raw))
            facts.append(EdgeFact(_EDGEKIND_PARENT_OF, prk, rk, OL, valid_from=t, raw=raw))

        for d in e.inputs:
            facts.append(self._dataset_fact(d, t, raw))
            source = self._resolve_input(d, when, e.run_id)
            facts.append(EdgeFact(_EDGEKIND_CONSUMED, source, rk, OL, valid_from=t, raw=raw))
        for d in e.outputs:
            dk, vk = dataset_key(d.namespace, d.name), version_key(d.namespace, d.name, e.run_id)
            facts.append(self._dataset_fact(d, t, raw))
            vprops = self._props(vk)
            vprops["dataset"] = {"namespace": d.namespace, "name": d.name}
            vprops["run_id"] = e.run_id
            merge_timed(vprops, "facets", d.facets, when)
            merge_timed(vprops, "output_facets", d.io_facets, when)
            for bucket in ("facets", "facet_times", "output_facets", "output_facet_times"):
                vprops.setdefault(bucket, {})
            existing = self.nodes.get(vk)
            first = min(iso(existing.first_seen), when) if existing is not None else when
            self.new_versions[(d.namespace, d.name)].append((first, vk.source_id))
            facts.append(self._node(vk, vprops, name=d.name, namespace=d.namespace,
                                    display_name=f"{d.name}@{e.run_id}", when=t, raw=raw))
            facts.append(EdgeFact(_EDGEKIND_PRODUCED, rk, vk, OL, valid_from=t, raw=raw))
            facts.append(EdgeFact(_EDGEKIND_VERSION_OF, vk, dk, OL, valid_from=t, raw=raw))
        return facts

    def _job_event(self, e: ParsedEvent, raw: RawPayload) -> list:
        when, t = iso(e.event_time), e.event_time
        jk = job_key(e.job_namespace, e.job_name)
        props = self._props(jk)
        declared_at = props.get("declared_at")
        ins = [d.key for d in e.inputs]
        outs = [d.key for d in e.outputs]
        newest = declared_at is None or when >= declared_at
        previous_ins, previous_outs = props.get("declared_inputs") or [], props.get("declared_outputs") or []
        if newest:
            props["declared_inputs"], props["declared_outputs"], props["declared_at"] = ins, outs, when
        facts: list = [self._job_fact(e, raw, props)]
        for d in e.inputs + e.outputs:
            facts.append(self._dataset_fact(d, t, raw))
        for key in ins:
            facts.append(EdgeFact(_EDGEKIND_CONSUMED, NodeKey(OL, "dataset", key), jk, OL, valid_from=t, raw=raw))
        for key in outs:
            facts.append(EdgeFact(_EDGEKIND_PRODUCED, jk, NodeKey(OL, "dataset", key), OL, valid_from=t, raw=raw))
        if newest:
            # What the job no longer declares stops holding now.
            for key in previous_ins:
                if key not in ins:
                    facts.append(EdgeClose(_EDGEKIND_CONSUMED, NodeKey(OL, "dataset", key), jk, at=t))
            for key in previous_outs:
                if key not in outs:
                    facts.append(EdgeClose(_EDGEKIND_PRODUCED, jk, NodeKey(OL, "dataset", key), at=t))
        else:
            # A late, older declaration: what the newer one dropped held only until the newer one.
            until = dt.datetime.fromisoformat(declared_at)
            for key in ins:
                if key not in previous_ins:
                    facts.append(EdgeClose(_EDGEKIND_CONSUMED, NodeKey(OL, "dataset", key), jk, at=until))
            for key in outs:
                if key not in previous_outs:
                    facts.append(EdgeClose(_EDGEKIND_PRODUCED, jk, NodeKey(OL, "dataset", key), at=until))
        return facts


# Most nodes one statement of `preload_sql` names (a group of single POSTs names a few dozen at most).
PRELOAD_MAX_KEYS = 1000
_FIELDS = Node._meta.concrete_fields
_COLUMNS = [f.column for f in _FIELDS]
_ATTNAMES = [f.attname for f in _FIELDS]
_ID, _SOURCE_ID, _FIRST_SEEN = (_COLUMNS.index(c) for c in ("id", "source_id", "first_seen"))
_KIND, _SOURCE = (_COLUMNS.index(c) for c in ("kind", "source"))
_CONVERTERS: dict[str, list] = {}


def row_sql(tag: int | str, values: dict[str, str], from_sql: str) -> str:
    """One UNION ALL branch of `Mapper.preload_sql`'s statement: the tag, then the node table's columns
    (`values` maps a column to its SQL expression; the others are NULL), FROM `from_sql`."""
    head = tag if isinstance(tag, str) else f"{int(tag)}::bigint"
    return f"SELECT {head}, " + ", ".join(values.get(c, "NULL") for c in _COLUMNS) + f" FROM {from_sql}"


def preload_statements(also: list[str] = ()) -> tuple[str, str]:
    """The texts of `preload_arrays`' two prepared statements: the row locks on the nodes named by $1–$3
    (in id order, as load_nodes(lock=True) takes them), and the read of those nodes (tag 0) and of the
    newest VERSION_WINDOW versions (tag 1 + the dataset's index) of each input dataset named by $4/$5 of
    kind $6 and source $7 first seen at or before $8 — per dataset, a probe of an index on its name (the
    planner's pick, as for `_versions_sql`' literal text; either reads the dataset's versions up to that
    time and sorts them) — then the caller's `also` branches (built
    with `row_sql`, parameters from $9 on). Sent in one round trip, the read's snapshot is taken once the
    locks are granted (READ COMMITTED), as `preload_sql`'s."""
    table = connection.ops.quote_name(Node._meta.db_table)
    keys = (f"unnest($1::text[], $2::text[], $3::text[]) AS k(source, kind, source_id) JOIN {table} n "
            f"ON n.source = k.source AND n.kind = k.kind AND n.source_id = k.source_id")
    lock = f"SELECT 1 FROM {keys} ORDER BY n.id FOR UPDATE OF n"
    parts = [row_sql(0, {column: f"n.{connection.ops.quote_name(column)}" for column in _COLUMNS}, keys),
             # the tag is a bigint expression here: the UNION's first column is one then, in every branch
             row_sql("d.i", {"id": "v.id", "source_id": "v.source_id", "first_seen": "v.first_seen"},
                     f"unnest($4::text[], $5::text[]) WITH ORDINALITY AS d(namespace, name, i) CROSS JOIN LATERAL "
                     f"(SELECT id, source_id, first_seen FROM {table} x WHERE x.namespace = d.namespace "
                     f"AND x.name = d.name AND x.kind = $6::text AND x.source = $7::text "
                     f"AND x.first_seen <= $8::timestamptz ORDER BY x.first_seen DESC, x.id DESC "
                     f"LIMIT {VERSION_WINDOW}) v"),
             *also]
    return lock, " UNION ALL ".join(parts)


def _converters() -> list:
    """(column index, the field's database converters) for the columns that have any, per vendor; JSON
    read through orjson where it gives the same values (lineage.store._json_from_db), as the store's own
    reads of nodes do."""
    if connection.vendor not in _CONVERTERS:
        from lineage.store import _plain_json

        table = Node._meta.db_table
        _CONVERTERS[connection.vendor] = [
            (i, tuple(_json_from_db if _plain_json(f, conv) else conv for conv in convs)) for i, f in enumerate(_FIELDS)
            if (convs := tuple(connection.ops.get_db_converters(f.get_col(table)) + f.get_db_converters(connection)))]
    return _CONVERTERS[connection.vendor]


def _flat_converters() -> list:
    """`_converters` as (column index, converter, field) triples, one per converter, built once per vendor."""
    if connection.vendor not in _FLAT_CONVERTERS:
        _FLAT_CONVERTERS[connection.vendor] = [(i, conv, _FIELDS[i]) for i, convs in _converters() for conv in convs]
    return _FLAT_CONVERTERS[connection.vendor]


_FLAT_CONVERTERS: dict[str, list] = {}


def _json_from_db(value, field, db):
    """lineage.store._json_from_db (orjson, json's way for a text with an integer orjson could read as a
    float), with the long-number test of lineage.ingest.canonical.has_long_number: the same values."""
    if value is None or not isinstance(value, str) or has_long_number(value):
        return field.from_db_value(value, None, db)
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return field.from_db_value(value, None, db)


def _keys_where(keys) -> tuple[str, list]:
    """The WHERE clause matching these node keys (through the (source, kind, source_id) unique index)."""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in keys:
        grouped[(key.source, key.kind)].append(key.source_id)
    clauses, params = [], []
    for (source, kind), ids in sorted(grouped.items()):
        clauses.append(f"(source = %s AND kind = %s AND source_id IN ({', '.join(['%s'] * len(ids))}))")
        params += [source, kind, *ids]
    return " OR ".join(clauses), params


def _as_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    # SQLite through a raw cursor returns text
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
