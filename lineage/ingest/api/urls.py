"""API routes of this app (registered under /api/ by governance/urls.py): the OpenLineage endpoints at
the exact paths openlineage-python and Marquez clients use (`/api/v1/lineage`, `/api/v1/lineage/batch`),
and the ingest log (`/api/ingested-events/`)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from lineage.api.openlineage import LineageBatchView, LineageView
from lineage.ingest.api.views import IngestedEventViewSet

router = DefaultRouter(trailing_slash="/?")
router.register("ingested-events", IngestedEventViewSet, basename="ingestedevent")

urlpatterns = [
    path("v1/lineage", LineageView.as_view(), name="openlineage-lineage"),
    path("v1/lineage/batch", LineageBatchView.as_view(), name="openlineage-batch"),
    *router.urls,
]
