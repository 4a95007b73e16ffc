"""The OpenLineage ingest resolves each input dataset to its newest version at the event's time
(lineage.ingest.mapping.Mapper._load_versions). Through node_ns_name that read visits every version the
dataset ever had, and the work grows with history; this index answers it with the few newest entries.

The model's Meta should list the same index (models.Index(fields=["namespace", "name", "kind", "source",
"first_seen"], name="node_ns_name_kind_seen")) so that makemigrations keeps it."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("lineage", "0002_graph_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="node",
            index=models.Index(fields=["namespace", "name", "kind", "source", "first_seen"], name="node_ns_name_kind_seen"),
        ),
    ]
