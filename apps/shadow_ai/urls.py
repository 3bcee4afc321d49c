from django.urls import path

from . import views

app_name = "shadow_ai"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("history/", views.history, name="history"),
    path("queue.csv", views.queue_csv, name="csv"),
    path("scan/", views.scan_now, name="scan"),
    path("settings/", views.review_settings, name="settings"),
    path("<int:pk>/", views.item_detail, name="detail"),
    path("<int:pk>/register/", views.item_register, name="register"),
    path("<int:pk>/map/", views.item_map, name="map"),
    path("<int:pk>/dismiss/", views.item_dismiss, name="dismiss"),
    path("<int:pk>/reopen/", views.item_reopen, name="reopen"),
]
