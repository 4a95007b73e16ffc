"""API routes of the Viya connector (registered under /api/ by governance/urls.py)."""
from django.urls import path

from connectors.viya.api.views import SameAsConfirmView, SameAsLinkView

urlpatterns = [
    path("links/same-as/", SameAsLinkView.as_view(), name="link-same-as"),
    path("links/same-as/<int:id>/confirm/", SameAsConfirmView.as_view(), name="link-same-as-confirm"),
]
