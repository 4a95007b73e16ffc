"""The job io rows' cheap path for writes that open and close no edge (lineage.job_io.refresh): a function
that keeps the kept latest run's rank, and calls lineage_job_io_refresh only for a job whose latest run
may have changed; and lineage_job_io_refresh again, its kept run's edge looked up by (job, run) rather than
among all the job's runs (lineage.job_io._CAND_PAIRS). PostgreSQL only; SQLite runs the same statements
from Python. Reversing leaves the refresh function as it now is (the earlier text read every run's edge of
the job, with the same result)."""

from django.db import migrations


def install_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from lineage.job_io import FUNCTION_SQL, RERANK_FUNCTION_SQL

        schema_editor.execute(FUNCTION_SQL)
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
