"""Each OpenLineage job's CURRENT inputs and outputs, kept as rows (lineage.models.JobIO, JobLatestRun).

What "current" means is lineage.marquez.graph's derivation, which Marquez's reads follow (a job shows the
datasets of its current version, `job_versions_io_mapping WHERE is_current_job_version`):
- the job's latest run: among its runs (open instance_of edges to run nodes) the greatest state_time, then
  last_seen, then id (lineage.marquez.graph.latest_run_ids);
- the job's io: what that run produced and consumed (a dataset directly, or a dataset version through its
  open version_of edge), plus what the job itself produced and consumed (a JobEvent's design-time io), over
  open edges to OpenLineage nodes (lineage.marquez.graph.HOLDER_IO_SQL).

Why rows: "the jobs whose latest run read or wrote dataset D" is a step of every Marquez lineage walk, and
over the facts it reads every run that ever touched any version of D and ranks all runs of their jobs
(~100 runs and ~70 jobs per dataset on the benchmark graph, for one or two that qualify). Indexed by
dataset here it is one index range per dataset. The rows are "now" only: `as_of` reads keep deriving.

Why here and how: the rows must be true after every write, so lineage.store.apply calls `refresh` with
the facts it applied (ingest, harvests, restore and tests all write through it). Only the jobs the write
can have changed are recomputed, set-at-a-time:
- jobs named by a node fact or by an edge item that opened or closed an edge; the jobs of runs named by a
  node fact (their state_time or last_seen, hence the ranking, may have changed) or at the end of such a
  produced/consumed/instance_of edge;
- for a version whose version_of edge opened or closed, the jobs of its producer and the jobs that read it
  directly or whose latest run read it.
On PostgreSQL that is ONE statement (the affected jobs, their ranked latest runs, their io, and the delete
of rows no longer true, the insert of new ones, and the latest-run upsert as data-modifying CTEs), in a
PL/pgSQL function so that its plan is kept (FUNCTION_SQL), called with the store's other held writes so
it costs no round trip of its own. SQLite runs the same derivation as a
few portable statements (one writer at a time, round trips are free there).

Why a second, cheap path: most single events (RUNNING/COMPLETE of a run, restating its io) open and close
no edge, and then no job's io can change unless its latest run does; recomputing their jobs anyway was most
of the upkeep's cost per single event. The store says which edge items opened or closed an edge, and such a
write only re-ranks the runs it named against the kept latest runs (`refresh`).

Concurrency (PostgreSQL, READ COMMITTED): the statement reads the facts as committed when it starts. The
OpenLineage ingest locks every node an event names (its job and run among them) before writing
(lineage.ingest.mapping, load_nodes(lock=True)), so two transactions touching one job run one after the
other and the second statement sees the first's runs. Writers that do not lock would have to.
"""
from __future__ import annotations

from django.db import connection

from lineage.kinds import EdgeKind, NodeKind, Source

_OL = Source.OPENLINEAGE.value
# False: every write takes the full refresh (bench.marquez_api --write-cost compares the two paths).
RERANK = True
_EDGE_KINDS = (EdgeKind.PRODUCED.value, EdgeKind.CONSUMED.value, EdgeKind.INSTANCE_OF.value,
               EdgeKind.VERSION_OF.value)

# The jobs a write can have changed, from the holders (jobs and runs) and versions it named. A version
# whose version_of edge the write named changes the io of its producer and of the jobs that read it
# directly or through their LATEST run (the kept one: a reader run that is not its job's latest cannot
# become it unless the write names it, and then it is a holder anyway). Every event of a run restates
# its outputs' version_of edges, and a version may have hundreds of readers: only their jobs' latest
# runs are looked at, not every reader's job.
# {holder_set}, {version_set}: SELECTs of one id column.
_AFFECTED = """
holders(id) AS (
    {holder_set}
    UNION
    SELECT e.src_id FROM lineage_edge e
    WHERE e.kind = 'produced' AND e.valid_to IS NULL AND e.dst_id IN ({version_set})
    UNION
    SELECT l.job_id FROM lineage_edge e JOIN lineage_job_latest_run l ON l.run_id = e.dst_id
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL AND e.src_id IN ({version_set})
    UNION
    SELECT j.id FROM lineage_edge e JOIN lineage_node j ON j.id = e.dst_id AND j.kind = 'job'
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL AND e.src_id IN ({version_set})
),
runs_of(job_id, run_id) AS (
    SELECT e.src_id, e.dst_id FROM lineage_edge e
    WHERE e.kind = 'instance_of' AND e.valid_to IS NULL AND e.dst_id IN (SELECT id FROM holders)
),
jobs(id) AS (
    SELECT j.id FROM lineage_node j
    WHERE j.kind = 'job' AND j.source = 'openlineage'
        AND j.id IN (SELECT id FROM holders UNION SELECT job_id FROM runs_of)
)"""

_ALL_JOBS = "jobs(id) AS (SELECT id FROM lineage_node WHERE kind = 'job' AND source = 'openlineage')"

# Each affected job's latest run, ranked as lineage.marquez.graph.latest_run_ids ranks (state_time, then
# last_seen, then id, over live instance_of edges to run nodes), without reading every run of the job:
# the kept latest run L and its rank when kept stand for all the job's runs the write did not touch (their
# rank cannot have changed), so the new latest is the best of L and the touched runs. Only when L no
# longer qualifies (its instance_of edge closed, its rank lowered, or no L kept) are all the job's runs
# ranked ("stale"). A run's rank only rises through the OpenLineage ingest (state_time is the latest state
# eventTime, last_seen only moves later), so an event's cost follows the event, not the job's history.
# {state_time}: the run's state_time property as text, per vendor.
_RANK_INCREMENTAL = """
cand(job_id, run_id, st, last_seen) AS (
    SELECT p.job_id, r.id, COALESCE({state_time}, ''), r.last_seen FROM ({cand_pairs}) p
    JOIN lineage_node r ON r.id = p.run_id AND r.kind = 'run'
),
stale(job_id) AS (
    SELECT j.id FROM jobs j WHERE NOT EXISTS (
        SELECT 1 FROM lineage_job_latest_run l JOIN cand c ON c.job_id = l.job_id AND c.run_id = l.run_id
        WHERE l.job_id = j.id AND (c.st > l.state_time OR (c.st = l.state_time AND c.last_seen >= l.last_seen)))
),
pool(job_id, run_id, st, last_seen) AS (
    SELECT job_id, run_id, st, last_seen FROM cand WHERE job_id NOT IN (SELECT job_id FROM stale)
    UNION ALL
    SELECT e.src_id, r.id, COALESCE({state_time}, ''), r.last_seen
    FROM lineage_edge e JOIN lineage_node r ON r.id = e.dst_id
    WHERE e.kind = 'instance_of' AND e.valid_to IS NULL AND r.kind = 'run' AND e.src_id IN (SELECT job_id FROM stale)
),"""
# (job, run) of the affected jobs: the runs the write named, and the kept latest runs, over live
# instance_of edges. OFFSET 0 keeps the kept run's edge a probe of the open-edge index by (job, run, kind):
# flattened into a semi join, the function's generic plan read every open instance_of edge of the job and
# kept the one to the run (79 index entries and their heap rows for a job of 79 runs, growing with the
# job's history).
_CAND_PAIRS = """
    SELECT job_id, run_id FROM runs_of WHERE job_id IN (SELECT id FROM jobs)
    UNION
    SELECT l.job_id, l.run_id FROM lineage_job_latest_run l
    WHERE l.job_id IN (SELECT id FROM jobs) AND EXISTS (
        SELECT 1 FROM lineage_edge e WHERE e.src_id = l.job_id AND e.dst_id = l.run_id
            AND e.kind = 'instance_of' AND e.valid_to IS NULL OFFSET 0)
"""
# Every run of the jobs ranked: the backfill.
_RANK_FULL = """
pool(job_id, run_id, st, last_seen) AS (
    SELECT e.src_id, r.id, COALESCE({state_time}, ''), r.last_seen
    FROM lineage_edge e JOIN lineage_node r ON r.id = e.dst_id
    WHERE e.kind = 'instance_of' AND e.valid_to IS NULL AND r.kind = 'run' AND e.src_id IN (SELECT id FROM jobs)
),"""
_LATEST = """
ranked AS (
    SELECT job_id, run_id, st, last_seen,
        ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY st DESC, last_seen DESC, run_id DESC) AS k
    FROM pool
),
latest(job_id, run_id, st, last_seen) AS (SELECT job_id, run_id, st, last_seen FROM ranked WHERE k = 1)"""

# A job's io: HOLDER_IO_SQL's (lineage.marquez.graph) for the job and its latest run, over open edges.
_IO = """
io(job_id, dataset_id, role) AS (
    SELECT DISTINCT t.job_id, COALESCE(v.dst_id, t.x_id), t.role FROM (
        SELECT h.job_id, e.dst_id AS x_id, 'out' AS role FROM holder_of h JOIN lineage_edge e ON e.src_id = h.holder_id
        WHERE e.kind = 'produced' AND e.valid_to IS NULL
        UNION ALL
        SELECT h.job_id, e.src_id, 'in' FROM holder_of h JOIN lineage_edge e ON e.dst_id = h.holder_id
        WHERE e.kind = 'consumed' AND e.valid_to IS NULL
    ) t
    JOIN lineage_node x ON x.id = t.x_id
    LEFT JOIN lineage_edge v ON v.src_id = t.x_id AND v.kind = 'version_of' AND v.valid_to IS NULL
        AND x.kind = 'dataset_version'
    WHERE x.source = 'openlineage'
        AND (x.kind = 'dataset' OR (x.kind = 'dataset_version' AND v.dst_id IS NOT NULL))
)"""
_HOLDER_OF = "holder_of(job_id, holder_id) AS (SELECT id, id FROM jobs UNION ALL SELECT job_id, run_id FROM latest),"

# PostgreSQL: derive and write in one statement. Rows already true are left alone (no dead tuples for
# the common event that changes nothing); ON CONFLICT covers a concurrent writer inserting the same row.
_PG_WRITE = """
, dropped AS (
    DELETE FROM lineage_job_io t USING jobs WHERE t.job_id = jobs.id AND NOT EXISTS (
        SELECT 1 FROM io WHERE io.job_id = t.job_id AND io.dataset_id = t.dataset_id AND io.role = t.role)
), added AS (
    INSERT INTO lineage_job_io (job_id, dataset_id, role)
    SELECT io.job_id, io.dataset_id, io.role FROM io WHERE NOT EXISTS (
        SELECT 1 FROM lineage_job_io t WHERE t.job_id = io.job_id AND t.dataset_id = io.dataset_id AND t.role = io.role)
    ON CONFLICT (job_id, dataset_id, role) DO NOTHING
), runless AS (
    DELETE FROM lineage_job_latest_run l USING jobs
    WHERE l.job_id = jobs.id AND NOT EXISTS (SELECT 1 FROM latest WHERE latest.job_id = l.job_id)
)
INSERT INTO lineage_job_latest_run AS l (job_id, run_id, state_time, last_seen)
SELECT job_id, run_id, st, last_seen FROM latest
ON CONFLICT (job_id) DO UPDATE
SET run_id = EXCLUDED.run_id, state_time = EXCLUDED.state_time, last_seen = EXCLUDED.last_seen
WHERE (l.run_id, l.state_time, l.last_seen) IS DISTINCT FROM (EXCLUDED.run_id, EXCLUDED.state_time, EXCLUDED.last_seen)"""

_PG_STATE_TIME = "r.properties->>'state_time'"
_SQLITE_STATE_TIME = "json_extract(r.properties, '$.state_time')"


def _pg_statement(jobs_cte: str, rank: str) -> str:
    return ("WITH " + jobs_cte + "," + rank.format(state_time=_PG_STATE_TIME, cand_pairs=_CAND_PAIRS) + _LATEST + ","
            + _HOLDER_OF + _IO + _PG_WRITE)


# Why a function: planning the statement cost twice its execution (0.9 ms against 0.5 ms per single event)
# and, sent as text, it is planned every time. PL/pgSQL keeps the plan per connection (also across DISCARD
# ALL and poolers, which drop PREPAREd statements); it is generic (planned once, whatever the ids), so the
# statement is written for a plan that cannot know how many ids it gets: the instance_of edges of the
# holders are read once (runs_of) and every other lookup starts from those few rows (a form in which the
# plan joined every instance_of edge of a job with the holders cost 190 ms for a batch). Measured
# in-process per call (PostgreSQL CPU): ~0.3 ms for one event's holders, 5-20 ms for 125 runs' (a batch).
# Created by migration 0006 (`FUNCTION_SQL`); a change to the statement needs a migration running it
# again (CREATE OR REPLACE).
FUNCTION_SQL = ("CREATE OR REPLACE FUNCTION lineage_job_io_refresh(p_holders bigint[], p_versions bigint[]) "
                "RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$\nBEGIN\n"
                + _pg_statement(_AFFECTED.format(holder_set="SELECT h FROM unnest(p_holders) AS h",
                                                 version_set="SELECT v FROM unnest(p_versions) AS v"),
                                _RANK_INCREMENTAL)
                + ";\nEND\n$fn$")
_PG_REFRESH = "SELECT lineage_job_io_refresh(%s::bigint[], %s::bigint[])"
_PG_REFRESH_ALL = _pg_statement(_ALL_JOBS, _RANK_FULL)

# The rerank path (refresh): a write that opened and closed no edge the derivation reads, so no job's
# io can change unless its latest run does. For each job of the named runs (live instance_of edges from
# an OpenLineage job), the kept latest run K stands for every run the write did not name (kept rank >=
# theirs). The job needs the full refresh when it has no kept row, when K's rank is now below its kept
# rank (another run may now lead), or when a named run now ranks above K (state_time, last_seen, id, as
# the derivation orders). Otherwise K stays the latest and only its kept rank follows K's node.
# {r_state_time}, {k_state_time}: as in _RANK_INCREMENTAL, for r (a named run) and k (the kept run);
# {runs}: the test of e.dst_id against the named runs.
_RERANK_STALE = """
SELECT 1 FROM lineage_edge e
JOIN lineage_node r ON r.id = e.dst_id
JOIN lineage_node j ON j.id = e.src_id
LEFT JOIN lineage_job_latest_run l ON l.job_id = e.src_id
LEFT JOIN lineage_node k ON k.id = l.run_id
WHERE e.dst_id {runs} AND e.kind = 'instance_of' AND e.valid_to IS NULL AND r.kind = 'run'
    AND j.kind = 'job' AND j.source = 'openlineage'
    AND (k.id IS NULL
         OR (COALESCE({k_state_time}, ''), k.last_seen) < (l.state_time, l.last_seen)
         OR (COALESCE({r_state_time}, ''), r.last_seen, r.id) > (COALESCE({k_state_time}, ''), k.last_seen, k.id))"""
# The kept rank of the kept runs among the named ones, where it moved (most single events raise the
# latest run's last_seen; a restated event changes nothing and writes nothing).
_RERANK_UPDATE = """
UPDATE lineage_job_latest_run SET state_time = (
    SELECT COALESCE({r_state_time}, '') FROM lineage_node r WHERE r.id = lineage_job_latest_run.run_id),
    last_seen = (SELECT r.last_seen FROM lineage_node r WHERE r.id = lineage_job_latest_run.run_id)
WHERE run_id IN ({runs}) AND EXISTS (
    SELECT 1 FROM lineage_node r WHERE r.id = lineage_job_latest_run.run_id
        AND (COALESCE({r_state_time}, '') <> lineage_job_latest_run.state_time
             OR r.last_seen <> lineage_job_latest_run.last_seen))"""
_PG_RERANK_UPDATE = """
UPDATE lineage_job_latest_run l SET state_time = COALESCE({r_state_time}, ''), last_seen = r.last_seen
FROM lineage_node r
WHERE r.id = ANY(p_runs) AND l.run_id = r.id
    AND (l.state_time, l.last_seen) IS DISTINCT FROM (COALESCE({r_state_time}, ''), r.last_seen)"""


def _state_time(alias: str, vendor: str) -> str:
    return (_PG_STATE_TIME if vendor == "postgresql" else _SQLITE_STATE_TIME).replace("r.", alias + ".", 1)


# PostgreSQL: one function, its two statements' plans kept per connection like the refresh's; the
# refresh's own (large) plan is made only on a connection whose writes need it. Created by migration
# 0009 (`RERANK_FUNCTION_SQL`), the same way as FUNCTION_SQL.
RERANK_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION lineage_job_io_rerank(p_runs bigint[]) "
    "RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$\nBEGIN\nIF EXISTS ("
    + _RERANK_STALE.format(runs="= ANY(p_runs)", r_state_time=_state_time("r", "postgresql"),
                           k_state_time=_state_time("k", "postgresql"))
    + ") THEN\n    PERFORM lineage_job_io_refresh(p_runs, '{}'::bigint[]);\nELSE"
    + _PG_RERANK_UPDATE.format(r_state_time=_state_time("r", "postgresql"))
    + ";\nEND IF;\nEND\n$fn$")
_PG_RERANK = "SELECT lineage_job_io_rerank(%s::bigint[])"


def touched(node_facts, edge_items, nodes) -> tuple[list[int], list[int]]:
    """(holder ids, version ids) a write named: the jobs and runs of its node facts, the holder ends of
    its produced/consumed edges, both ends of instance_of edges, and the versions of version_of edges.
    `nodes`: NodeKey -> saved Node (the store's session). Only OpenLineage nodes can change an OpenLineage
    job's io (the derivation reads OpenLineage nodes only), so other sources' writes cost nothing here."""
    holders = set(_node_ids(node_facts, nodes, (NodeKind.JOB.value, NodeKind.RUN.value)))
    versions: set[int] = set()

    def pk(key):
        node = nodes.get(key)
        return None if node is None else node.pk

    for item in edge_items:
        kind = item.kind
        if kind not in _EDGE_KINDS or (item.src.source != _OL and item.dst.source != _OL):
            continue
        if kind == EdgeKind.PRODUCED:
            holders.add(pk(item.src))
        elif kind == EdgeKind.CONSUMED:
            holders.add(pk(item.dst))
        elif kind == EdgeKind.INSTANCE_OF:
            holders.add(pk(item.src))
            holders.add(pk(item.dst))
        else:
            versions.add(pk(item.src))
    holders.discard(None)
    versions.discard(None)
    return sorted(holders), sorted(versions)


def _node_ids(node_facts, nodes, kinds) -> list[int]:
    out = []
    for fact in node_facts:
        key = fact.key
        if key.kind in kinds and key.source == _OL:
            node = nodes.get(key)
            if node is not None and node.pk is not None:
                out.append(node.pk)
    return out


def _ranked_runs(node_facts, nodes) -> list[int]:
    """The OpenLineage runs a write named by a node fact: only a node fact can change a run's rank (its
    state_time property, its last_seen)."""
    return _node_ids(node_facts, nodes, (NodeKind.RUN.value,))


def refresh(writes, node_facts, edge_changes, nodes) -> None:
    """Keep the rows true after a store.apply write (see the module docstring).
    `edge_changes`: the write's EdgeFact / EdgeClose items that OPENED or CLOSED an edge (the store's
    session knows, lineage.store._Session.apply_edges); an item that only restated an open edge (its
    last_seen, properties or valid_from) cannot change what the derivation reads (open edges' ends).
    `writes`: the store's held writes (lineage.store._Writes): on PostgreSQL the statement rides with them,
    after the fact writes it reads, and costs no round trip of its own.

    Two paths. A write that opened or closed an edge the derivation reads (produced, consumed,
    instance_of, version_of, at an OpenLineage end) has the jobs it can have changed recomputed (the
    full refresh). Otherwise nothing structural changed, and only the rank of the runs it named can
    have moved: the rerank path (RERANK_FUNCTION_SQL, _portable_rerank) moves the kept latest run's
    rank, and recomputes only a job whose kept latest run a named run overtook, or whose kept latest
    run's rank fell. The common single event (RUNNING/COMPLETE of a run already its job's latest,
    restating its io) takes the second; a new run's first event, the first."""
    holders, versions = touched((), edge_changes, nodes)
    if holders or versions or not RERANK:
        holders, versions = touched(node_facts, edge_changes, nodes)
        if not holders and not versions:
            return
        if connection.vendor == "postgresql":
            writes.run(_PG_REFRESH, [holders, versions])
            return
        writes.flush()
        _portable_refresh(holders, versions)
        return
    runs = sorted(set(_ranked_runs(node_facts, nodes)))
    if not runs:
        return
    if connection.vendor == "postgresql":
        writes.run(_PG_RERANK, [runs])
        return
    writes.flush()
    _portable_rerank(runs)


def holders_around(node_id: int) -> list[int]:
    """The jobs and runs whose kept rows may change when node `node_id` is deleted outside store.apply
    (retention's prune): the node itself, the holders at the other end of its produced/consumed/instance_of
    edges, and the jobs of those runs. Read BEFORE the delete, since the delete takes the edges with it (a
    pruned run's job could not be found afterwards)."""
    sql = """
        WITH near(id) AS (
            SELECT %s
            UNION SELECT CASE WHEN e.src_id = %s THEN e.dst_id ELSE e.src_id END FROM lineage_edge e
            WHERE (e.src_id = %s OR e.dst_id = %s) AND e.kind IN ('produced', 'consumed', 'instance_of')
        )
        SELECT id FROM near
        UNION SELECT e.src_id FROM lineage_edge e
        WHERE e.kind = 'instance_of' AND e.valid_to IS NULL AND e.dst_id IN (SELECT id FROM near)"""
    with connection.cursor() as cur:
        cur.execute(sql, [node_id] * 4)
        return sorted(row[0] for row in cur.fetchall())


def refresh_holders(holder_ids) -> None:
    """Recompute the rows of the jobs `holder_ids` (jobs, or runs standing for their jobs) name, from the facts
    as they now are: for deletes, which do not go through store.apply. Ids no longer in the store are ignored;
    a job whose kept latest run was deleted has all its runs ranked again (its kept row went with the run)."""
    holders = sorted(set(holder_ids))
    if not holders:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_PG_REFRESH, [holders, []])
        return
    _portable_refresh(holders, ())


def _portable_rerank(runs) -> None:
    """RERANK_FUNCTION_SQL's work as portable statements (SQLite)."""
    vendor = connection.vendor
    marks = _in(runs)
    with connection.cursor() as cur:
        cur.execute(_RERANK_STALE.format(runs=f"IN ({marks})", r_state_time=_state_time("r", vendor),
                                         k_state_time=_state_time("k", vendor)) + " LIMIT 1", list(runs))
        if cur.fetchone() is not None:
            _portable_refresh(runs, ())
            return
        cur.execute(_RERANK_UPDATE.format(runs=marks, r_state_time=_state_time("r", vendor)), list(runs))


def _in(ids) -> str:
    if not ids:
        return "SELECT NULL WHERE 1 = 0"
    return "SELECT id FROM lineage_node WHERE id IN (" + ",".join(["%s"] * len(ids)) + ")"


def _portable_refresh(holders=(), versions=(), conn=None, all_jobs: bool = False) -> None:
    """The PostgreSQL statement's work as portable statements (SQLite): rank, derive, then replace the
    affected jobs' rows. `all_jobs`: every OpenLineage job, every run ranked (the backfill)."""
    conn = conn or connection
    state_time = _PG_STATE_TIME if conn.vendor == "postgresql" else _SQLITE_STATE_TIME
    if all_jobs:
        head, rank, params = _ALL_JOBS, _RANK_FULL, []
    else:
        head = _AFFECTED.format(holder_set=_in(holders), version_set=_in(versions))
        rank, params = _RANK_INCREMENTAL, list(holders) + list(versions) * 3
    with conn.cursor() as cur:
        # SQLite takes OFFSET only after a LIMIT, and plans the EXISTS as a probe anyway.
        cand_pairs = _CAND_PAIRS if conn.vendor == "postgresql" else _CAND_PAIRS.replace(" OFFSET 0", "")
        cur.execute("WITH " + head + "," + rank.format(state_time=state_time, cand_pairs=cand_pairs) + _LATEST
                    + " SELECT j.id, l.run_id, l.st, l.last_seen FROM jobs j LEFT JOIN latest l ON l.job_id = j.id",
                    params)
        found = cur.fetchall()
        jobs = [row[0] for row in found]
        latest = [row for row in found if row[1] is not None]
        pairs = [(j, j) for j in jobs] + [(row[0], row[1]) for row in latest]
        io = []
        for start in range(0, len(pairs), 400):
            chunk = pairs[start:start + 400]
            cur.execute("WITH holder_of(job_id, holder_id) AS (VALUES " + ",".join(["(%s, %s)"] * len(chunk))
                        + ")," + _IO + " SELECT job_id, dataset_id, role FROM io", [v for p in chunk for v in p])
            io.extend(cur.fetchall())
        for start in range(0, len(jobs), 500):
            marks = ",".join(["%s"] * len(jobs[start:start + 500]))
            cur.execute(f"DELETE FROM lineage_job_io WHERE job_id IN ({marks})", jobs[start:start + 500])
            cur.execute(f"DELETE FROM lineage_job_latest_run WHERE job_id IN ({marks})", jobs[start:start + 500])
        if io:
            cur.executemany("INSERT INTO lineage_job_io (job_id, dataset_id, role) VALUES (%s, %s, %s)", io)
        if latest:
            cur.executemany("INSERT INTO lineage_job_latest_run (job_id, run_id, state_time, last_seen) "
                            "VALUES (%s, %s, %s, %s)", latest)


def refresh_all(conn=None) -> None:
    """Every OpenLineage job's rows from the facts, every run ranked: the backfill (migration 0006) and
    generated stores (bench.marquez_api writes its graph around the store). Rows of jobs that no longer
    exist go with their node (ON DELETE CASCADE)."""
    conn = conn or connection
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            cur.execute(_PG_REFRESH_ALL)
        return
    _portable_refresh(conn=conn, all_jobs=True)
