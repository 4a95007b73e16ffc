"""Each OpenLineage job's current inputs and outputs as rows (lineage.job_io), filled for the facts already
stored. Correct on an empty store (no jobs: no rows) and on a populated one (every job derived once, as
lineage.store.apply keeps them afterwards)."""

import django.db.models.deletion
from django.db import migrations, models



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
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
