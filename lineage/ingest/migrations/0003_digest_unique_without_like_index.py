"""The digest stays unique through a named constraint instead of unique=True: on PostgreSQL unique=True also
made a LIKE-only twin index (varchar_pattern_ops, 17 MB at 130k events) that no query uses and every ingest
paid a random B-tree insert into."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0002_marquez_event_time'),
        ('lineage', '0008_version_index_ordered_by_id'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='ingestedevent',
            name='digest',
            field=models.CharField(help_text='SHA-256 of the canonical JSON event; a repeat post is a no-op', max_length=64),
        ),
        migrations.AddConstraint(
            model_name='ingestedevent',
            constraint=models.UniqueConstraint(fields=('digest',), name='ingest_digest_unique'),
        ),
    ]
