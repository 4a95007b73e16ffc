"""API routes of this app (registered under /api/ by governance/urls.py): the OpenLineage endpoints at
the exact paths openlineage-python and Marquez clients use (`/api/v1/lineage`, `/api/v1/lineage/batch`),
and the ingest log (`/api/ingested-events/`)."""
from common.routers import api_router
from django.urls import path

from lineage.api.openlineage import LineageBatchView, LineageView
from lineage.ingest.api.views import IngestedEventViewSet

router = api_router()
router.register("ingested-events", IngestedEventViewSet, basename="ingestedevent")

urlpatterns = [
    path("v1/lineage", LineageView.as_view(), name="openlineage-lineage"),
    path("v1/lineage/batch", LineageBatchView.as_view(), name="openlineage-batch"),
    *router.urls,
]
