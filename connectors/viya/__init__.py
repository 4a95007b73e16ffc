"""SAS Viya (Model Manager) connector.

client.py       typed REST client: OAuth, collections by `next` links, ETags, vnd.sas errors, retries
harvest.py      the Connector: incremental pages of store facts (mapping.py turns bodies into facts)
writeback.py    set champion / publish for approved promotions (write-back enabled connectors only)
plugin.py       registry interface for `manage.py harvest viya ...` and configured connectors
The Viya stand-in (a real HTTP server with fault injection) and the demo's model repository are
development tools, not part of the product: devtools/viya/.
api/, urls.py   POST /api/links/same-as/ (the explicit link: lineage/stitching.py; automatic rules: stitching.py)
"""
