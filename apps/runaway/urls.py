"""Portal routes, mounted at /c/<slug>/finops/runaway/ by config.urls_tenant."""

from django.urls import path

from . import views

app_name = "runaway"
urlpatterns = [
    path("", views.incident_list, name="incidents"),
    path("settings/", views.settings_view, name="detection_settings"),
    path("settings/secret/", views.settings_rotate_secret, name="detection_secret"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/minutes.csv", views.incident_minutes_csv, name="minutes_csv"),
    path("<int:pk>/stop/", views.incident_stop_view, name="stop"),
    path("<int:pk>/resolve/", views.incident_resolve_view, name="resolve"),
]
