"""`manage.py create_user NAME --role ROLE`: the operator's way to add a user; prints the API token last.

The token is stored hashed, so it can be printed only when it is made: for a new user, for an existing
user without a live default token, or with `--rotate-token` (which revokes the old one). A password given
here passes the same validators (AUTH_PASSWORD_VALIDATORS) as anywhere else.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from governance.accounts import tokens
from common.roles import ALL_ROLES, ensure_groups
from common.audit import context


class Command(BaseCommand):
    help = "Create (or update) a user with one or more roles and print a new API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", choices=ALL_ROLES, required=True)
        parser.add_argument("--password", help="Set a password for dashboard login (optional; validated).")
        parser.add_argument("--email", default="")
        parser.add_argument("--rotate-token", action="store_true",
                            help="Revoke the user's default token and print a new one.")
        parser.add_argument("--token-days", type=int, default=None,
                            help="Days the new token lives (default API_TOKEN_DEFAULT_DAYS, at most API_TOKEN_MAX_DAYS).")

    def handle(self, *args, username, role, password, email, rotate_token, token_days, **options):
        if not username.strip():
            raise CommandError("username must not be empty")
        ensure_groups()
        User = get_user_model()
        if password is not None:
            candidate = User.objects.filter(username=username).first() or User(username=username, email=email)
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                raise CommandError("password refused: " + " ".join(exc.messages)) from None
        with context.acting_as(context.AuditContext(username="cli:create_user", service="cli:create_user")), transaction.atomic():
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if password:
                user.set_password(password)
                user.save()
            user.groups.add(*Group.objects.filter(name__in=role))
            if "admin" in role and not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
            key = None
            try:
                if rotate_token:
                    key = tokens.rotate_default(user, days=token_days)
                elif tokens.default_token(user) is None:
                    key = tokens.issue(user, "default", days=token_days, is_default=True)[1]
            except tokens.TokenError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(f"{'Created' if created else 'Updated'} user {username} with roles {', '.join(sorted(set(role)))}")
        if key is None:
            self.stdout.write("The user's API token is unchanged (stored hashed, it cannot be shown again); "
                              "--rotate-token prints a new one.")
        else:
            self.stdout.write(key)
