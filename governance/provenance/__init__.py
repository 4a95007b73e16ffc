"""The provenance card of a model version and the model registry: what a compliance officer asks of the
store, told across platforms (Kubeflow, Viya, OpenLineage) and joined with what governance decided.

It sits in governance, not in lineage, because it depends on both: lineage (the core) is read only through
its query functions (lineage.graph) and governance through its services (approvals, archive). It has no
models of its own, so it needs no migration.
"""
