"""The two edge indexes the lineage walk scans (edge_dst_from upstream, edge_src_from downstream) also carry
the edge's id, source and raw_id, so that the lineage answer's edge rows (lineage.graph_answer: id, kind,
src, dst, source, valid_from, valid_to, raw) come from an index-only scan instead of one heap row each.

Why (issue 18): the answer looks its edges up from the walk's side, one probe of these indexes per kept node;
with the old INCLUDE list each probe then read the edge's heap row (a random page of the widest table) for
the three missing columns. On the 1M-node bench graph this cut the edge part of the statement by about half
(EXPLAIN ANALYZE: 3 instead of 4 buffers per probe, no heap tuple to deform). The entries grow by ~24 bytes
(187 -> 263 MB each at 2.9M edges); the walk's own scans stay index-only on the same keys. None of the added
columns is ever updated, so updates that were HOT stay HOT (closing an edge sets valid_to, which was already
included).

Index-only scans only skip the heap for pages the visibility map marks all-visible, which VACUUM sets.
lineage_edge is mostly appended to; PostgreSQL's insert-triggered autovacuum waits for 20% of the table by
default (600k new edges at 3M), so the newest edges — the ones recent lineage reads touch most — would stay
heap-fetched for long. Per-table settings bring that to 2% (and 5% for updated/deleted rows): small,
cheap vacuums of mostly-new pages. PostgreSQL only; SQLite has no such thing.

Deployment note: RemoveIndex + AddIndex with the same names run in this migration's transaction, holding
lineage_edge's lock while the two indexes are built (seconds per million edges). On a large live store, build
them first by hand with CREATE INDEX CONCURRENTLY under other names and swap, then `migrate --fake` this one.
"""
from django.db import migrations, models

AUTOVACUUM = ("ALTER TABLE lineage_edge SET (autovacuum_vacuum_insert_scale_factor = 0.02,"
              " autovacuum_vacuum_scale_factor = 0.05)")
AUTOVACUUM_RESET = "ALTER TABLE lineage_edge RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_scale_factor)"


def _postgresql_only(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('lineage', '0006_job_io'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='edge',
            name='edge_dst_from',
        ),
        migrations.RemoveIndex(
            model_name='edge',
            name='edge_src_from',
        ),
        migrations.AddIndex(
            model_name='edge',
            index=models.Index(fields=['dst', 'valid_from'], include=('src', 'valid_to', 'kind', 'id', 'source', 'raw'),
                               name='edge_dst_from'),
        ),
        migrations.AddIndex(
            model_name='edge',
            index=models.Index(fields=['src', 'valid_from'], include=('dst', 'valid_to', 'kind', 'id', 'source', 'raw'),
                               name='edge_src_from'),
        ),
        migrations.RunPython(_postgresql_only(AUTOVACUUM), _postgresql_only(AUTOVACUUM_RESET)),
    ]
