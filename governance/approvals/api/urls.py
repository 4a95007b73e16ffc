"""API routes of this app (registered under /api/ by governance/urls.py)."""
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash="/?")
urlpatterns = router.urls
