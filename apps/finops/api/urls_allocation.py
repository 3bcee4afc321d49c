"""API routes of allocation rules, included by apps.finops.api.urls."""

urlpatterns: list = []
