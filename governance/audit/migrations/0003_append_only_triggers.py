"""Triggers that refuse UPDATE, DELETE and TRUNCATE on the audit tables (see governance/audit/append_only.py).

RunPython rather than RunSQL because the SQL differs by database: PostgreSQL gets a plpgsql function with
row and TRUNCATE triggers, SQLite gets BEFORE UPDATE/DELETE triggers; other databases get nothing.
"""
from django.db import migrations


def forwards(apps, schema_editor):
    from governance.audit import append_only

    append_only.install(schema_editor.connection)


def backwards(apps, schema_editor):
    from governance.audit import append_only

    append_only.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_auditcheckpoint")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
