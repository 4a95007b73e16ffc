"""Marquez's HTTP API (its read side) served from the lineage store, so Marquez clients and tools work
against Lineage Ledger unchanged. Nothing here keeps a second copy: every answer is derived from the
nodes, edges, revisions and raw events the OpenLineage ingest stores. See docs/marquez-api.md.

graph: the job/dataset lineage graph; column_lineage, run_lineage: the other graph reads; queries: the
store reads behind the resources; shapes: Marquez's JSON shapes; params, errors: its query parameters
and error bodies; views, writes, urls: the HTTP side.
"""
from lineage.marquez.graph import marquez_lineage  # noqa: F401  (the import path callers used before)
