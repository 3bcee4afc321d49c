from django.urls import path

from . import views

app_name = "anomalies"
urlpatterns = [
    path("", views.anomaly_list, name="list"),
    path("anomalies.csv", views.anomaly_csv, name="csv"),
    path("settings/", views.anomaly_settings_page, name="settings"),
    path("scan/", views.anomaly_scan_now, name="scan"),
    path("<int:pk>/", views.anomaly_detail, name="detail"),
    path("<int:pk>/series.csv", views.anomaly_series_csv, name="series_csv"),
    path("<int:pk>/<str:action>/", views.anomaly_action, name="action"),
]
