"""Portal routes, mounted at /c/<slug>/incidents/ by config.urls_tenant."""

from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_new, name="new"),
    path("settings/", views.settings_view, name="settings"),
    path("regimes/", views.regimes_view, name="regimes"),
    path("from-runaway/<int:runaway_id>/", views.open_from_runaway, name="open_from_runaway"),
    path("from-anomaly/<int:anomaly_id>/", views.open_from_anomaly, name="open_from_anomaly"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/edit/", views.incident_edit, name="edit"),
    path("<int:pk>/status/", views.incident_status, name="status"),
    path("<int:pk>/note/", views.incident_note, name="note"),
    path("<int:pk>/regimes/", views.incident_regimes, name="set_regimes"),
    path("<int:pk>/classify/", views.incident_classify, name="classify"),
    path("<int:pk>/obligations/<int:obligation_id>/<str:action>/", views.obligation_action, name="obligation_action"),
]
