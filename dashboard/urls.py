"""Routes under /dashboard/ (registered by governance/urls.py)."""
urlpatterns = []
