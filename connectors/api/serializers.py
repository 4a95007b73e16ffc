"""Connector configuration and harvest records over the API.

Secrets are write-only: the API accepts them, stores them encrypted (common.secret_box) and only ever
answers with their names, so neither a response, a log line nor the audit trail carries a value.
"""
from __future__ import annotations

from rest_framework import serializers

from connectors import registry, tasks
from connectors.models import ConnectorConfig, Harvest


class ScheduleField(serializers.CharField):
    """Read from the connector's django-celery-beat PeriodicTask, which is where beat reads it too."""

    def get_attribute(self, instance):
        return tasks.schedule_of(instance)


class ConnectorConfigSerializer(serializers.ModelSerializer):
    schedule = ScheduleField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Harvest schedule as a crontab expression ('m h dom mon dow', e.g. '*/30 * * * *'), run by "
                  "celery beat; null or '' removes it. Also editable as the 'harvest:<name>' periodic task in admin.",
    )
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False),
        write_only=True, required=False,
        help_text="Write-only. On update, given names are set (null removes one); others are kept.",
    )
    secret_names = serializers.SerializerMethodField()
    last_harvest = serializers.SerializerMethodField()

    class Meta:
        model = ConnectorConfig
        fields = ["id", "name", "kind", "settings", "secrets", "secret_names", "enabled", "write_back_enabled",
                  "schedule", "created_at", "updated_at", "last_harvest"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_secret_names(self, obj) -> list[str]:
        try:
            return sorted(obj.secrets)
        except ValueError:
            return []

    def get_last_harvest(self, obj) -> dict | None:
        last = obj.harvests.order_by("-started_at", "-pk").first()
        if last is None:
            return None
        return {"id": last.pk, "status": last.status, "started_at": last.started_at, "finished_at": last.finished_at}

    def validate_settings(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("settings must be a JSON object")
        return value

    def validate_schedule(self, value):
        if not value:
            return None
        try:
            tasks.parse_crontab(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc))
        return " ".join(value.split())

    def validate(self, attrs):
        instance = self.instance
        kind = attrs.get("kind", instance.kind if instance else None)
        if instance is not None and "kind" in attrs and attrs["kind"] != instance.kind:
            raise serializers.ValidationError({"kind": "a connector's kind cannot change; create a new connector"})
        settings = attrs.get("settings", instance.settings if instance else {})
        secrets = dict(instance.secrets) if instance else {}
        for name, value in (attrs.get("secrets") or {}).items():
            if value is None:
                secrets.pop(name, None)
            else:
                secrets[name] = value
        try:
            plugin = registry.plugin(kind)
        except (ValueError, ImportError) as exc:
            raise serializers.ValidationError({"kind": f"connector kind {kind!r} is not available: {exc}"})
        try:
            plugin.validate(settings, secrets)
        except ValueError as exc:
            raise serializers.ValidationError({"settings": str(exc)})
        attrs["_merged_secrets"] = secrets
        return attrs

    def _save(self, instance, attrs):
        secrets = attrs.pop("_merged_secrets")
        attrs.pop("secrets", None)
        has_schedule = "schedule" in attrs
        schedule = attrs.pop("schedule", None)
        old_schedule = tasks.schedule_of(instance) if instance.pk else None
        if instance.pk and "name" in attrs and attrs["name"] != instance.name:
            tasks.remove_schedule(instance)  # its beat entry is named after the connector: re-made below
            has_schedule, schedule = (True, schedule) if has_schedule else (True, old_schedule)
        for name, value in attrs.items():
            setattr(instance, name, value)
        instance.set_secrets(secrets)
        instance.save()
        if has_schedule:
            tasks.set_schedule(instance, schedule)
        tasks.sync_schedule_enabled(instance)
        return instance

    def create(self, validated_data):
        return self._save(ConnectorConfig(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class HarvestSerializer(serializers.ModelSerializer):
    connector = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Harvest
        fields = ["id", "connector", "source_key", "kind", "status", "started_at", "finished_at", "pages", "counts",
                  "cursor_before", "cursor_after", "error", "warnings", "actor", "request_id"]
        read_only_fields = fields


class HarvestQueuedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued")
    task_id = serializers.CharField(help_text="Celery task id of the harvest")
    harvest = serializers.IntegerField(help_text="Harvest record to poll at /api/harvests/<id>/")


class HarvestRefusedSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="already_running, disabled or misconfigured")
    detail = serializers.CharField()
    harvest = serializers.IntegerField(required=False, help_text="The harvest that is running")
