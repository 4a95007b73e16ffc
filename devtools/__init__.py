"""Development tools: test doubles, demo generators and benchmark helpers, kept out of the product.

They are used by the tests, `make demo` and bench/, never by the service itself, so the product wheel
leaves them out (pyproject.toml's package list) and no module under common/, governance/, lineage/,
connectors/ or dashboard/ imports them (tests/codebase/test_no_product_imports_devtools.py).

A Django app only for its `load_demo` management command: governance/settings.py installs it when the
package is importable, i.e. when running from a source checkout (tests, demo, benchmarks) and never from
an installed wheel.

viya/               the Viya stand-in (fake_state.py: resources; fake_server.py: HTTP server with fault
                    injection) and the demo's model repository (demo.py)
kubeflow/           the KFP API stand-in (fake_api.py), the generated ML Metadata demo (demo.py) and a
                    one-process harvest with a store snapshot (testing.py)
ingest_demo.py      a made-up platform's OpenLineage events (demo, ingest benchmarks)
archive_sample.py   a model's lineage written through the store (archive tests and benchmark)
provenance_demo.py  the demo's registry history (promotions)
dashboard.py        Dash callbacks driven in-process (DashCaller) and generated lineage for the pages
management/commands/load_demo.py   `manage.py load_demo`, what `make demo` runs
"""
