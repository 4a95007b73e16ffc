"""The one endpoint anonymous callers may reach: is the service up and its database answering."""
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response


@extend_schema(
    responses={200: inline_serializer("Health", {"status": serializers.CharField(), "database": serializers.CharField()})},
    auth=[],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return Response({"status": "ok", "database": connection.vendor})
    except Exception as exc:  # the point of a health check is to say so, not to 500
        return Response({"status": "error", "database": str(exc)}, status=503)
