"""The portfolio's MSP-level pages besides the console itself (/), mounted at /portfolio/."""

from django.urls import path

from . import views

app_name = "portfolio"
urlpatterns = [
    path("health-score/", views.health_settings, name="health_settings"),
    path("summary/", views.summary_report, name="summary"),
    path("summary.pdf", views.summary_report_pdf, name="summary_pdf"),
]
