"""Benchmark databases: each benchmark works in a PostgreSQL database of its own, made here on demand."""
from __future__ import annotations

from urllib.parse import urlparse


def _admin(url: str):
    import psycopg2

    parts = urlparse(url)
    conn = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                            user=parts.username or "postgres", password=parts.password, dbname="postgres")
    conn.autocommit = True
    return conn


def ensure_database(url: str) -> None:
    """Create the database `url` names when it is missing (a no-op for SQLite URLs)."""
    if not url.startswith("postgres"):
        return
    from psycopg2 import sql

    name = urlparse(url).path.lstrip("/")
    admin = _admin(url)
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()


def fresh_database(url: str) -> None:
    """Drop and re-create the database `url` names, so a run starts from an empty store."""
    if not url.startswith("postgres"):
        return
    from psycopg2 import sql

    name = urlparse(url).path.lstrip("/")
    admin = _admin(url)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
