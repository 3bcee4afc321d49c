"""Service levels, mounted at /c/<slug>/service-levels/ (config/urls_tenant.py)."""

from django.urls import path

from . import views

app_name = "service_levels"
urlpatterns = [
    path("", views.slo_list, name="list"),
    path("new/", views.slo_new, name="new"),
    path("<int:pk>/", views.slo_detail, name="detail"),
    path("<int:pk>/edit/", views.slo_edit, name="edit"),
    path("<int:pk>/retire/", views.slo_retire, name="retire"),
    path("<int:pk>/delete/", views.slo_delete, name="delete"),
    path("breaches/", views.breach_list, name="breaches"),
    path("credits/<int:pk>/settle/", views.credit_settle, name="credit_settle"),
    path("calendars/", views.calendar_list, name="calendars"),
    path("calendars/new/", views.calendar_new, name="calendar_new"),
    path("calendars/<int:pk>/", views.calendar_edit, name="calendar_edit"),
    path("openslo/export/", views.openslo_export, name="openslo_export"),
    path("openslo/import/", views.openslo_import, name="openslo_import"),
    path("drift/", views.drift_list, name="drift"),
    path("drift/<int:asset_id>/", views.drift_asset, name="drift_asset"),
]
