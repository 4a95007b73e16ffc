"""The lineage store: source-independent nodes and edges kept as immutable, time-stamped facts."""
