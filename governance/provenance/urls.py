"""API routes of the provenance card and the registry (registered under /api/ by governance/urls.py,
before lineage's, whose model-versions routes end at the id)."""
from django.urls import path

from governance.provenance import views

urlpatterns = [
    path("model-versions/<int:pk>/provenance/", views.ProvenanceCardView.as_view(), name="model-version-provenance"),
    path("model-registry/", views.ModelRegistryView.as_view(), name="model-registry"),
]
