"""Single sign-on routes under /accounts/oidc/ (registered by governance/urls.py)."""
from django.urls import path

from governance.accounts import views

urlpatterns = [
    path("login/", views.oidc_login, name="oidc-login"),
    path("callback/", views.oidc_callback, name="oidc-callback"),
]
