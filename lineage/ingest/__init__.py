"""OpenLineage ingest: raw events kept beside the normalized graph (as Marquez does)."""
