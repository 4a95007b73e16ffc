"""Admin for configured connectors (secrets write-only, audited like the API) and harvest records (read-only)."""
from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.db import transaction

from connectors import registry
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from common.audit import context, record


def _kinds():
    return [(kind, kind) for kind in sorted(registry.PLUGINS)]


class ConnectorConfigForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=_kinds, help_text="A connector plugin registered in connectors/registry.py")
    new_secrets = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON object of secrets to set, e.g. {"kfp_token": "..."}; null removes one. Never shown again.',
    )

    class Meta:
        model = ConnectorConfig
        fields = ["name", "kind", "settings", "enabled", "write_back_enabled"]

    def clean(self):
        data = super().clean()
        text = (data.get("new_secrets") or "").strip()
        try:
            given = json.loads(text) if text else {}
        except ValueError:
            raise forms.ValidationError({"new_secrets": "not valid JSON"}) from None
        if not isinstance(given, dict):
            raise forms.ValidationError({"new_secrets": "must be a JSON object"})
        secrets = dict(self.instance.secrets) if self.instance.pk else {}
        for name, value in given.items():
            if value is None:
                secrets.pop(name, None)
            else:
                secrets[name] = str(value)
        kind = data.get("kind")
        if kind:
            try:
                registry.plugin(kind).validate(data.get("settings") or {}, secrets)
            except (ValueError, ImportError) as exc:
                raise forms.ValidationError(str(exc)) from None
        self.merged_secrets = secrets
        return data


@admin.register(ConnectorConfig)
class ConnectorConfigAdmin(admin.ModelAdmin):
    form = ConnectorConfigForm
    list_display = ["name", "kind", "enabled", "write_back_enabled", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic(), context.acting_as(context.for_user(request.user)):
            before = ConnectorConfig.objects.get(pk=obj.pk).audit_data() if change else None
            obj.set_secrets(form.merged_secrets)
            obj.save()
            record("connector.update" if change else "connector.create", "connector", obj.pk,
                   before=before, after=obj.audit_data())

    def delete_model(self, request, obj):
        with transaction.atomic(), context.acting_as(context.for_user(request.user)):
            before, pk = obj.audit_data(), obj.pk
            obj.delete()
            record("connector.delete", "connector", pk, before=before)

    def has_delete_permission(self, request, obj=None):
        # Bulk delete would bypass delete_model (and the audit trail); delete one at a time.
        return obj is not None and super().has_delete_permission(request, obj)


@admin.register(Harvest)
class HarvestAdmin(admin.ModelAdmin):
    list_display = ["id", "connector", "kind", "status", "started_at", "finished_at", "pages"]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in Harvest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HarvestCursor)
class HarvestCursorAdmin(admin.ModelAdmin):
    list_display = ["key", "updated_at"]
    readonly_fields = ["key", "cursor", "updated_at"]

    def has_add_permission(self, request):
        return False
