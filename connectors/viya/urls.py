"""API routes of the Viya connector (registered under /api/ by governance/urls.py)."""
urlpatterns = []
