"""API routes of the FinOps dashboard, included by apps.finops.api.urls."""

from django.urls import re_path

from .dashboard import FinopsDashboardView

urlpatterns = [
    re_path(r"^finops-dashboard/?$", FinopsDashboardView.as_view(), name="finops-dashboard"),
]
