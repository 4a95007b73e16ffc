"""The versions index ordered as the ingest reads it: (namespace, name, kind, source, first_seen, id).

The ingest reads each input dataset's newest VERSION_WINDOW versions ORDER BY first_seen DESC, id DESC LIMIT 8.
Without id in the index PostgreSQL read every version up to the event's time and sorted them (2,462 versions,
27 ms, for one dataset of a 130k-node store), so each event cost more as a dataset's history grew; with it
the backward index scan stops after eight entries (0.1 ms). On a large live store, build the new index first
with CREATE INDEX CONCURRENTLY under another name and fake this migration.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lineage', '0007_edge_indexes_cover_lineage_reads'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='node',
            name='node_ns_name_kind_seen',
        ),
        migrations.AddIndex(
            model_name='node',
            index=models.Index(fields=['namespace', 'name', 'kind', 'source', 'first_seen', 'id'], name='node_ns_name_kind_seen'),
        ),
    ]
