"""`manage.py create_user NAME --role ROLE`: the operator's way to add a user; prints the API token last."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from governance.accounts.roles import ALL_ROLES, ensure_groups
from governance.audit import context


class Command(BaseCommand):
    help = "Create (or update) a user with one or more roles and print an API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", choices=ALL_ROLES, required=True)
        parser.add_argument("--password", help="Set a password for dashboard login (optional).")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, password, email, **options):
        if not username.strip():
            raise CommandError("username must not be empty")
        ensure_groups()
        with context.acting_as(context.AuditContext(username="cli:create_user", service="cli:create_user")), transaction.atomic():
            User = get_user_model()
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if password:
                user.set_password(password)
                user.save()
            user.groups.add(*Group.objects.filter(name__in=role))
            if "admin" in role and not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
            token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'Created' if created else 'Updated'} user {username} with roles {', '.join(sorted(set(role)))}")
        self.stdout.write(token.key)
