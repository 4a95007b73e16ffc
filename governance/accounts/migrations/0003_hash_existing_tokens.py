"""Tokens issued before hashing (rest_framework.authtoken's table, which held them as issued) become
hashed ApiTokens, and the old table goes: after this migration the database holds no usable token.

A migrated token keeps working (its holders need not change anything now) until API_TOKEN_DEFAULT_DAYS
from the migration; `manage.py create_user NAME --role R --rotate-token` or the token page issues the next.
"""
import datetime as dt
import hashlib

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

OLD_TABLE = "authtoken_token"


def hash_old_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return  # a database made after the switch
    ApiToken = apps.get_model("accounts", "ApiToken")
    now = timezone.now()
    days = getattr(settings, "API_TOKEN_DEFAULT_DAYS", 90)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {connection.ops.quote_name('key')}, user_id, created FROM {OLD_TABLE}")
        rows = cur.fetchall()
    for key, user_id, created in rows:
        if isinstance(created, str):
            created = parse_datetime(created)
        if created is not None and timezone.is_naive(created):
            created = timezone.make_aware(created, dt.timezone.utc)
        ApiToken.objects.create(
            user_id=user_id, name="default (migrated)", key_hash=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:8], created_at=created or now, is_default=True,
            expires_at=now + dt.timedelta(days=days) if days else None,
        )
    schema_editor.execute(f"DROP TABLE {OLD_TABLE}")
    # So that re-adding rest_framework.authtoken one day would create its table afresh.
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_api_tokens_oidc_identities")]
    operations = [migrations.RunPython(hash_old_tokens, migrations.RunPython.noop)]
