"""Admin: who a user is at the OpenID provider (an administrator links an existing local account to a
provider subject here, which a sign-in never does by itself). API tokens are deliberately not registered:
people manage their own (/accounts/tokens/), and deactivating a user stops all of theirs."""
from django.contrib import admin

from governance.accounts.models import OidcIdentity


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "issuer", "is_service", "created_at")
    list_filter = ("is_service", "issuer")
    search_fields = ("user__username", "subject")
    raw_id_fields = ("user",)
