"""`flush` that respects the append-only audit trail.

Django's own `flush` (also what TransactionTestCase and pytest-django's `transactional_db` and
`live_server` run between tests) empties every table, and the audit triggers rightly refuse that. On a
test database the triggers are lifted for the flush; on any other database the command refuses, because
audit data may leave only by export and archive, never by silent deletion.
"""
from pathlib import Path

from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.creation import TEST_DATABASE_PREFIX

from governance.audit import append_only


def is_test_database(connection) -> bool:
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return True
    return Path(name).name.startswith(TEST_DATABASE_PREFIX)


class Command(flush.Command):
    help = flush.Command.help + " Refused outside test databases: the audit trail is append-only."

    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if not is_test_database(connection):
            raise CommandError(
                "refusing to flush: the audit trail is append-only. Export it (manage.py export_audit) and "
                "archive it, then drop and re-create the database if you really mean to start over."
            )
        with append_only.suspended(connection):
            return super().handle(**options)
