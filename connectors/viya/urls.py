"""API routes of the Viya connector (registered under /api/ by governance/urls.py)."""
from common.routers import slash_optional

from connectors.viya.api.views import SameAsConfirmView, SameAsLinkView

urlpatterns = [
    *slash_optional("links/same-as/", SameAsLinkView.as_view(), name="link-same-as"),
    *slash_optional("links/same-as/<int:id>/confirm/", SameAsConfirmView.as_view(), name="link-same-as-confirm"),
]
