from django.conf import settings
from rest_framework import serializers

from governance.accounts.models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "state", "is_default"]
        read_only_fields = ["id", "prefix", "created_at", "expires_at", "revoked_at", "state", "is_default"]
        extra_kwargs = {"name": {"max_length": 100, "allow_blank": False}}

    def get_state(self, obj) -> str:
        return obj.state()


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, allow_blank=False, trim_whitespace=True)
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0,
        help_text="Days until the token expires (default API_TOKEN_DEFAULT_DAYS, at most API_TOKEN_MAX_DAYS; "
                  "0 = never, allowed only without a maximum).")

    def validate_expires_in_days(self, value):
        maximum = settings.API_TOKEN_MAX_DAYS
        if value is not None and maximum and (value == 0 or value > maximum):
            raise serializers.ValidationError(f"A token may live at most {maximum} days.")
        return value


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself: shown in this answer only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class WhoAmISerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
