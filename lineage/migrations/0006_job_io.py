"""Each OpenLineage job's current inputs and outputs as rows (lineage.job_io), filled for the facts already
stored. Correct on an empty store (no jobs: no rows) and on a populated one (every job derived once, as
lineage.store.apply keeps them afterwards)."""

import django.db.models.deletion
from django.db import migrations, models


def install_function(apps, schema_editor):
    # PostgreSQL only: the refresh statement with its plan kept (lineage.job_io.FUNCTION_SQL).
    if schema_editor.connection.vendor == "postgresql":
        from lineage.job_io import FUNCTION_SQL

        schema_editor.execute(FUNCTION_SQL)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS lineage_job_io_refresh(bigint[], bigint[])")


def backfill(apps, schema_editor):
    # The live derivation on purpose: the rows must equal what lineage.store.apply keeps from now on.
    from lineage.job_io import refresh_all

    refresh_all(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('lineage', '0005_marquez_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='JobLatestRun',
            fields=[
                ('job', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='lineage.node')),
                ('state_time', models.TextField(blank=True, default='')),
                ('last_seen', models.DateTimeField()),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lineage.node')),
            ],
            options={
                'db_table': 'lineage_job_latest_run',
            },
        ),
        migrations.CreateModel(
            name='JobIO',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(max_length=3)),
                ('dataset', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lineage.node')),
                ('job', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lineage.node')),
            ],
            options={
                'db_table': 'lineage_job_io',
                'indexes': [models.Index(fields=['dataset', 'job', 'role'], name='job_io_dataset')],
                'constraints': [models.UniqueConstraint(fields=('job', 'dataset', 'role'), name='job_io_unique')],
            },
        ),
        migrations.RunPython(install_function, drop_function),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
