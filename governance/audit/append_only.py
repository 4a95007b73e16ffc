"""Database triggers that make the audit tables append-only, installed by a migration.

The application never updates or deletes an entry, so any UPDATE, DELETE or TRUNCATE that reaches these
tables is an accident or an attack: the database refuses it with the error below. A table owner can still
disable the triggers (the tamper tests do exactly that); what catches such a person is the hash chain and
the signed checkpoints, not the triggers.
"""
from __future__ import annotations

import contextlib

TABLES = ("audit_auditentry", "audit_auditcheckpoint")
MESSAGE = "the audit trail is append-only"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def _pg_triggers(table: str) -> list[tuple[str, str]]:
    return [
        (f"{table}_append_only", f"BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"),
        (f"{table}_no_truncate", f"BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"),
    ]


def _sqlite_triggers(table: str) -> list[tuple[str, str]]:
    return [
        (f"{table}_no_update", f"BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE on {table} refused'); END"),
        (f"{table}_no_delete", f"BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE on {table} refused'); END"),
    ]


def trigger_names(vendor: str, table: str) -> list[str]:
    make = {"postgresql": _pg_triggers, "sqlite": _sqlite_triggers}.get(vendor)
    return [name for name, _ in make(table)] if make else []


def install(connection) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(_PG_FUNCTION)
            for table in TABLES:
                for name, body in _pg_triggers(table):
                    cur.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                    cur.execute(f"CREATE TRIGGER {name} {body}")
        elif connection.vendor == "sqlite":
            for table in TABLES:
                for name, body in _sqlite_triggers(table):
                    cur.execute(f"DROP TRIGGER IF EXISTS {name}")
                    cur.execute(f"CREATE TRIGGER {name} {body}")


def uninstall(connection) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for table in TABLES:
                for name, _ in _pg_triggers(table):
                    cur.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            cur.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
        elif connection.vendor == "sqlite":
            for table in TABLES:
                for name, _ in _sqlite_triggers(table):
                    cur.execute(f"DROP TRIGGER IF EXISTS {name}")


@contextlib.contextmanager
def suspended(connection):
    """Lift the guard for the duration (what a table owner can always do; used to wipe test databases
    and by the tamper tests). On PostgreSQL this is `ALTER TABLE … DISABLE TRIGGER`; SQLite has no such
    statement, so its triggers are dropped and re-created."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for table in TABLES:
                for name, _ in _pg_triggers(table):
                    cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        else:
            uninstall(connection)
    try:
        yield
    finally:
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                for table in TABLES:
                    for name, _ in _pg_triggers(table):
                        cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
            else:
                install(connection)
