"""API authentication: personal API tokens, and OpenID Connect access tokens (JWTs) for service accounts.

openlineage-python's `api_key` auth and Marquez clients send `Authorization: Bearer <token>`; DRF's
own clients send `Token <token>`. Both are accepted. The authenticated user becomes the audit actor.

A personal token is looked up by the SHA-256 of the presented text (governance.accounts.models), and the
token, its user and the user's roles are read in one query on that unique index: every API request
checks a role right after authenticating, and a second round trip for the groups was a tenth of an
ingest request's time. A presented value shaped like a JWT goes to governance.accounts.oidc_bearer when
OIDC is configured (OIDC_ISSUER and OIDC_API_AUDIENCE). What that query returns is remembered per token
for API_TOKEN_CACHE_SECONDS (governance.accounts.token_cache, which says what forgets it sooner).
"""
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from governance.accounts import oidc_bearer, token_cache
from governance.accounts.models import ApiToken
from common.roles import ADMIN, ALL_ROLES
from governance.accounts.tokens import hash_key
from common.audit import context

KEYWORDS = (b"bearer", b"token")


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate_header(self, request):
        return self.keyword

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give exactly one token after Bearer.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the token has invalid characters.") from None
        if oidc_bearer.looks_like_jwt(key):
            user, token = oidc_bearer.authenticate_jwt(key)
        else:
            user, token = self.authenticate_credentials(key)
        django_request = request._request
        context.set_current(
            context.for_user(
                user,
                request_id=getattr(django_request, "request_id", None),
                client_ip=django_request.META.get("REMOTE_ADDR"),
            )
        )
        return user, token

    def authenticate_credentials(self, key):
        key_hash = hash_key(key)
        rows = token_cache.get(key_hash)
        if rows is None:
            rows = _fetch(ApiToken, "key_hash", key_hash)
            if rows:
                token_cache.put(key_hash, rows[0][_user_id_index(ApiToken)], rows)
        user, token, groups = _build(ApiToken, "key_hash", None, rows)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        state = token.state(timezone.now())
        if state != "active":
            raise exceptions.AuthenticationFailed(f"Token {state}: create a new one.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        set_roles_from_groups(user, groups)
        return user, token


def set_roles_from_groups(user, groups) -> None:
    """What common.roles.roles_of would compute with its own query, cached where it looks."""
    roles = {name for name in groups if name in ALL_ROLES}
    if user.is_superuser:
        roles.add(ADMIN)
    user._ll_roles = roles


def user_and_groups(model, column: str, value, extra: tuple[str, object] | None = None):
    """(user, row of `model`, group names) for the row whose `column` equals `value` (and `extra`'s column
    its value), or (None, None, ()) — one statement, built by hand: the ORM's compilation of the same join
    cost more CPU than the query itself."""
    return _build(model, column, extra[0] if extra else None, _fetch(model, column, value, extra))


def _fetch(model, column: str, value, extra: tuple[str, object] | None = None) -> list[tuple]:
    sql = _plan(connection.vendor, model, column, extra[0] if extra else None)[0]
    with connection.cursor() as cur:
        cur.execute(sql, [value, extra[1]] if extra else [value])
        return cur.fetchall()


def _user_id_index(model) -> int:
    """Where the row's user id is in a fetched row (the row's own columns come first)."""
    return [f.attname for f in model._meta.concrete_fields].index("user_id")


def _build(model, column: str, extra_column: str | None, rows: list[tuple]):
    """(user, row of `model`, group names) made afresh from fetched (or remembered) rows."""
    if not rows:
        return None, None, ()
    _sql, User, row_fields, user_fields, row_conv, user_conv = _plan(connection.vendor, model, column, extra_column)
    first, nt = rows[0], len(row_fields)

    def _values(fields, converters, values):
        out = []
        for f, convs, v in zip(fields, converters, values):
            for conv in convs:
                v = conv(v, f, connection)
            out.append(v)
        return out

    row = model.from_db(connection.alias, [f.attname for f in row_fields], _values(row_fields, row_conv, first[:nt]))
    user = User.from_db(connection.alias, [f.attname for f in user_fields],
                        _values(user_fields, user_conv, first[nt:nt + len(user_fields)]))
    row.user = user
    return user, row, {r[-1] for r in rows if r[-1] is not None}


_PLANS: dict[tuple, tuple] = {}


def _plan(vendor: str, model, column: str, extra_column: str | None) -> tuple:
    """The statement and the per-field value converters, worked out once per database vendor (doing it
    per request — a Col and a converter lookup per field — cost a fifth of authenticating)."""
    cache_key = (vendor, model._meta.label, column, extra_column)
    plan = _PLANS.get(cache_key)
    if plan is not None:
        return plan
    User = get_user_model()
    user_fields = [f for f in User._meta.concrete_fields]
    row_fields = [f for f in model._meta.concrete_fields]
    membership = User.groups.through._meta
    group_meta = membership.get_field("group").related_model._meta
    qn = connection.ops.quote_name
    where = f"t.{qn(model._meta.get_field(column).column)} = %s"
    if extra_column:
        where += f" AND t.{qn(model._meta.get_field(extra_column).column)} = %s"
    sql = (
        f"SELECT {', '.join('t.' + qn(f.column) for f in row_fields)}, "
        f"{', '.join('u.' + qn(f.column) for f in user_fields)}, g.{qn('name')} "
        f"FROM {qn(model._meta.db_table)} t JOIN {qn(User._meta.db_table)} u ON u.{qn(User._meta.pk.column)} = t.{qn(model._meta.get_field('user').column)} "
        f"LEFT JOIN {qn(membership.db_table)} m ON m.{qn(membership.get_field('user').column)} = u.{qn(User._meta.pk.column)} "
        f"LEFT JOIN {qn(group_meta.db_table)} g ON g.{qn(group_meta.pk.column)} = m.{qn(membership.get_field('group').column)} "
        f"WHERE {where}"
    )

    def converters(fields):
        return [tuple(connection.ops.get_db_converters(f.get_col(f.model._meta.db_table)) + f.get_db_converters(connection))
                for f in fields]

    plan = (sql, User, row_fields, user_fields, converters(row_fields), converters(user_fields))
    _PLANS[cache_key] = plan
    return plan
