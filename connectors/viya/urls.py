"""API routes of the Viya connector (registered under /api/ by governance/urls.py)."""
from django.urls import path

from connectors.viya.api.views import SameAsLinkView

urlpatterns = [
    path("links/same-as/", SameAsLinkView.as_view(), name="link-same-as"),
]
