"""Helpers every app may use and that depend on nothing of ours (only Django and DRF): the API router
shape. The apps (lineage, governance, connectors, dashboard) import from here; this package imports none
of them."""
