"""API token authentication.

openlineage-python's `api_key` auth and Marquez clients send `Authorization: Bearer <token>`; DRF's
own clients send `Token <token>`. Both are accepted. The authenticated user becomes the audit actor.

The token, its user and the user's roles are read in one query: every API request checks a role right
after authenticating, and a second round trip for the groups was a tenth of an ingest request's time.
"""
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

from governance.accounts.roles import ADMIN, ALL_ROLES
from governance.audit import context

KEYWORDS = (b"bearer", b"token")


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

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
        user, token, groups = _token_user_groups(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # What governance.accounts.roles.roles_of would compute with its own query, cached where it looks.
        roles = {name for name in groups if name in ALL_ROLES}
        if user.is_superuser:
            roles.add(ADMIN)
        user._ll_roles = roles
        return user, token


def _token_user_groups(key: str):
    """(user, token, group names) for a token key, or (None, None, ()) — one statement, built by hand:
    the ORM's compilation of the same join cost more CPU than the query itself."""
    sql, Token, User, token_fields, user_fields, token_conv, user_conv = _plan(connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql, [key])
        rows = cur.fetchall()
    if not rows:
        return None, None, ()
    first, nt = rows[0], len(token_fields)

    def _values(fields, converters, values):
        out = []
        for f, convs, v in zip(fields, converters, values):
            for conv in convs:
                v = conv(v, f, connection)
            out.append(v)
        return out

    token = Token.from_db(connection.alias, [f.attname for f in token_fields], _values(token_fields, token_conv, first[:nt]))
    user = User.from_db(connection.alias, [f.attname for f in user_fields],
                        _values(user_fields, user_conv, first[nt:nt + len(user_fields)]))
    token.user = user
    return user, token, {row[-1] for row in rows if row[-1] is not None}


_PLANS: dict[str, tuple] = {}


def _plan(vendor: str) -> tuple:
    """The statement and the per-field value converters, worked out once per database vendor (doing it
    per request — a Col and a converter lookup per field — cost a fifth of authenticating)."""
    plan = _PLANS.get(vendor)
    if plan is not None:
        return plan
    Token = TokenAuthentication().get_model()
    User = get_user_model()
    user_fields = [f for f in User._meta.concrete_fields]
    token_fields = [f for f in Token._meta.concrete_fields]
    membership = User.groups.through._meta
    group_meta = membership.get_field("group").related_model._meta
    qn = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join('t.' + qn(f.column) for f in token_fields)}, "
        f"{', '.join('u.' + qn(f.column) for f in user_fields)}, g.{qn('name')} "
        f"FROM {qn(Token._meta.db_table)} t JOIN {qn(User._meta.db_table)} u ON u.{qn(User._meta.pk.column)} = t.{qn(Token._meta.get_field('user').column)} "
        f"LEFT JOIN {qn(membership.db_table)} m ON m.{qn(membership.get_field('user').column)} = u.{qn(User._meta.pk.column)} "
        f"LEFT JOIN {qn(group_meta.db_table)} g ON g.{qn(group_meta.pk.column)} = m.{qn(membership.get_field('group').column)} "
        f"WHERE t.{qn(Token._meta.pk.column)} = %s"
    )

    def converters(fields):
        return [tuple(connection.ops.get_db_converters(f.get_col(f.model._meta.db_table)) + f.get_db_converters(connection))
                for f in fields]

    plan = (sql, Token, User, token_fields, user_fields, converters(token_fields), converters(user_fields))
    _PLANS[vendor] = plan
    return plan
