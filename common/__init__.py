"""Helpers every app may use and that depend on nothing of ours (only Django, DRF and libraries): the API
router shape (routers), typed environment readers (env), the audit port and context (audit), JSON input
limits (inputs, parsers), bounded filtering (filter_backend, datetime_filters), response headers and log
redaction (security), secrets encrypted at rest (secret_box), and the port through which governance reaches
the configured source connectors (sources). The apps import from here; this package imports none of them
(tests/codebase/test_import_directions.py)."""
