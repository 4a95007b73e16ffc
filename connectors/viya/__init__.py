"""SAS Viya (Model Manager) connector.

client.py       typed REST client: OAuth, collections by `next` links, ETags, vnd.sas errors, retries
harvest.py      the Connector: incremental pages of store facts (mapping.py turns bodies into facts)
writeback.py    set champion / publish for approved promotions (write-back enabled connectors only)
plugin.py       registry interface for `manage.py harvest viya ...` and configured connectors
fake_state.py   resources a Viya stand-in serves: from the recordings, or generated (demo, bench)
fake_server.py  that stand-in: a real HTTP server on 127.0.0.1 with fault injection
demo.py         the demo's own model repository and `load_demo()`
api/, urls.py   POST /api/links/same-as/ (the explicit link: lineage/stitching.py; automatic rules: stitching.py)
"""
