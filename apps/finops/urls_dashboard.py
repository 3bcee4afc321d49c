"""Portal routes of the FinOps dashboard, included by apps.finops.urls."""

from django.urls import path

from . import views_dashboard as views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
