"""API routes of the FinOps dashboard, included by apps.finops.api.urls."""

urlpatterns: list = []
