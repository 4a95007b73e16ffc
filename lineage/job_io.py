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
- jobs named by a node or edge fact; the jobs of runs named by a node fact (their state_time or
  last_seen, hence the ranking, may have changed) or by a produced/consumed/instance_of edge;
- for a version whose version_of edge changed, the jobs of the runs (and jobs) that produced or consumed it.
On PostgreSQL that is ONE statement (the affected jobs, their ranked latest runs, their io, and the delete
of rows no longer true, the insert of new ones, and the latest-run upsert as data-modifying CTEs), held
with the store's other writes so it costs no round trip of its own. SQLite runs the same derivation as a
few portable statements (one writer at a time, round trips are free there).

Concurrency (PostgreSQL, READ COMMITTED): the statement reads the facts as committed when it starts. The
OpenLineage ingest locks every node an event names (its job and run among them) before writing
(lineage.ingest.mapping, load_nodes(lock=True)), so two transactions touching one job run one after the
other and the second statement sees the first's runs. Writers that do not lock would have to.
"""
from __future__ import annotations

from django.db import connection

from lineage.kinds import EdgeKind, NodeKind, Source

_OL = Source.OPENLINEAGE.value
_HOLDER_KINDS = (NodeKind.JOB.value, NodeKind.RUN.value)
_EDGE_KINDS = (EdgeKind.PRODUCED.value, EdgeKind.CONSUMED.value, EdgeKind.INSTANCE_OF.value,
               EdgeKind.VERSION_OF.value)

# {state_time}: the run's state_time property as text, per vendor. {jobs}: the affected jobs' ids (a
# SELECT). The ranking is _LATEST_SQL's, the io HOLDER_IO_SQL's (lineage.marquez.graph), over open edges.
_DERIVE = """
ranked AS (
    SELECT e.src_id AS job_id, r.id AS run_id, ROW_NUMBER() OVER (
        PARTITION BY e.src_id ORDER BY COALESCE({state_time}, '') DESC, r.last_seen DESC, r.id DESC) AS k
    FROM lineage_edge e JOIN lineage_node r ON r.id = e.dst_id
    WHERE e.kind = 'instance_of' AND r.kind = 'run' AND e.valid_to IS NULL AND e.src_id IN (SELECT id FROM jobs)
),
latest(job_id, run_id) AS (SELECT job_id, run_id FROM ranked WHERE k = 1),
holder_of(job_id, holder_id) AS (SELECT id, id FROM jobs UNION ALL SELECT job_id, run_id FROM latest),
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

# The jobs a write can have changed, from the holders (jobs and runs) and versions it named.
_AFFECTED = """
holders(id) AS (
    SELECT h FROM unnest({holders}) AS h
    UNION
    SELECT e.src_id FROM lineage_edge e
    WHERE e.kind = 'produced' AND e.valid_to IS NULL AND e.dst_id IN (SELECT v FROM unnest({versions}) AS v)
    UNION
    SELECT e.dst_id FROM lineage_edge e
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL AND e.src_id IN (SELECT v FROM unnest({versions}) AS v)
),
jobs(id) AS (
    SELECT j.id FROM lineage_node j
    WHERE j.kind = 'job' AND j.source = 'openlineage' AND j.id IN (
        SELECT id FROM holders
        UNION
        SELECT e.src_id FROM lineage_edge e
        WHERE e.kind = 'instance_of' AND e.valid_to IS NULL AND e.dst_id IN (SELECT id FROM holders))
)"""

_ALL_JOBS = "jobs(id) AS (SELECT id FROM lineage_node WHERE kind = 'job' AND source = 'openlineage')"

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
), moved AS (
    INSERT INTO lineage_job_latest_run (job_id, run_id) SELECT job_id, run_id FROM latest
    ON CONFLICT (job_id) DO UPDATE SET run_id = EXCLUDED.run_id
    WHERE lineage_job_latest_run.run_id IS DISTINCT FROM EXCLUDED.run_id
)
SELECT 1"""

_PG_STATE_TIME = "r.properties->>'state_time'"
_SQLITE_STATE_TIME = "json_extract(r.properties, '$.state_time')"


def _pg_statement(jobs_cte: str) -> str:
    return "WITH " + jobs_cte + "," + _DERIVE.format(state_time=_PG_STATE_TIME) + _PG_WRITE


_PG_REFRESH = _pg_statement(_AFFECTED.format(holders="%s::bigint[]", versions="%s::bigint[]"))
_PG_REFRESH_ALL = _pg_statement(_ALL_JOBS)


def touched(node_facts, edge_items, nodes) -> tuple[list[int], list[int]]:
    """(holder ids, version ids) a write named: the jobs and runs of its node facts, the holder ends of
    its produced/consumed edges, both ends of instance_of edges, and the versions of version_of edges.
    `nodes`: NodeKey -> saved Node (the store's session). Only OpenLineage nodes can change an OpenLineage
    job's io (the derivation reads OpenLineage nodes only), so other sources' writes cost nothing here."""
    holders: set[int] = set()
    versions: set[int] = set()

    def pk(key):
        node = nodes.get(key)
        return None if node is None else node.pk

    for fact in node_facts:
        if fact.key.kind in _HOLDER_KINDS and fact.key.source == _OL:
            holders.add(pk(fact.key))
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


def refresh(writes, node_facts, edge_items, nodes) -> None:
    """Recompute the rows of the jobs a store.apply write may have changed (see the module docstring).
    `writes`: the store's held writes (lineage.store._Writes): on PostgreSQL the statement rides with them,
    after the fact writes it reads, and costs no round trip of its own."""
    holders, versions = touched(node_facts, edge_items, nodes)
    if not holders and not versions:
        return
    if connection.vendor == "postgresql":
        writes.run(_PG_REFRESH, [holders, versions, versions])
        return
    writes.flush()
    _portable_refresh(affected_jobs(holders, versions))


def affected_jobs(holders, versions) -> list[int]:
    """The OpenLineage jobs whose rows a write naming `holders` and `versions` may have changed (portable)."""
    sql = ("WITH " + _AFFECTED.replace("SELECT h FROM unnest({holders}) AS h", _values(holders))
           .replace("SELECT v FROM unnest({versions}) AS v", _values(versions))
           + " SELECT id FROM jobs")
    with connection.cursor() as cur:
        cur.execute(sql, list(holders) + list(versions) * 2)
        return [row[0] for row in cur.fetchall()]


def _values(ids) -> str:
    if not ids:
        return "SELECT NULL WHERE 1 = 0"
    return "SELECT id FROM lineage_node WHERE id IN (" + ",".join(["%s"] * len(ids)) + ")"


def _portable_refresh(job_ids, conn=None, chunk: int = 500) -> None:
    """Delete the rows of `job_ids` and insert them again from the facts (SQLite; also PostgreSQL-valid)."""
    conn = conn or connection
    state_time = _PG_STATE_TIME if conn.vendor == "postgresql" else _SQLITE_STATE_TIME
    for start in range(0, len(job_ids), chunk):
        ids = job_ids[start:start + chunk]
        marks = ",".join(["%s"] * len(ids))
        head = f"WITH jobs(id) AS (SELECT id FROM lineage_node WHERE id IN ({marks})),"
        derive = _DERIVE.format(state_time=state_time)
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM lineage_job_io WHERE job_id IN ({marks})", ids)
            cur.execute(head + derive + " INSERT INTO lineage_job_io (job_id, dataset_id, role) "
                        "SELECT job_id, dataset_id, role FROM io", ids)
            cur.execute(f"DELETE FROM lineage_job_latest_run WHERE job_id IN ({marks})", ids)
            cur.execute(head + derive + " INSERT INTO lineage_job_latest_run (job_id, run_id) "
                        "SELECT job_id, run_id FROM latest", ids)


def refresh_all(conn=None) -> None:
    """Every OpenLineage job's rows from the facts: the backfill (migration 0006) and generated stores
    (bench.marquez_api writes its graph around the store). Rows of jobs that no longer exist go with
    their node (ON DELETE CASCADE)."""
    conn = conn or connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(_PG_REFRESH_ALL)
            return
        cur.execute("SELECT id FROM lineage_node WHERE kind = 'job' AND source = 'openlineage' ORDER BY id")
        ids = [row[0] for row in cur.fetchall()]
    _portable_refresh(ids, conn)
