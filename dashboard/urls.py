"""Routes under /dashboard/ (registered by governance/urls.py): everything goes to the Dash app."""
from django.urls import path, re_path

from dashboard.views import dash_view

app_name = "dashboard"
urlpatterns = [
    path("", dash_view, name="index"),
    re_path(r"^(?P<rest>.+)$", dash_view, name="dash"),
]
