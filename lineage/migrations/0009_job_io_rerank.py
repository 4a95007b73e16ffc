"""The job io rows' cheap path for writes that open and close no edge (lineage.job_io.refresh): a function
that keeps the kept latest run's rank, and calls lineage_job_io_refresh only for a job whose latest run
may have changed. PostgreSQL only; SQLite runs the same statements from Python."""

from django.db import migrations


def install_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from lineage.job_io import RERANK_FUNCTION_SQL

        schema_editor.execute(RERANK_FUNCTION_SQL)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS lineage_job_io_rerank(bigint[])")


class Migration(migrations.Migration):

    dependencies = [
        ('lineage', '0008_version_index_ordered_by_id'),
    ]

    operations = [
        migrations.RunPython(install_function, drop_function),
    ]
