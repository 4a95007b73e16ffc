"""API routes of this app (registered under /api/ by governance/urls.py): the OpenLineage endpoints at
the paths openlineage-python and Marquez use (`/api/v1/lineage`, `/api/v1/lineage/batch`)."""
from django.urls import re_path

from lineage.api.openlineage import LineageBatchView, LineageView

urlpatterns = [
    re_path(r"^v1/lineage/?$", LineageView.as_view(), name="openlineage-lineage"),
    re_path(r"^v1/lineage/batch/?$", LineageBatchView.as_view(), name="openlineage-batch"),
]
