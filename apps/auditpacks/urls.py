from django.urls import path

from . import views

app_name = "auditpacks"
urlpatterns = [
    path("", views.pack_list, name="list"),
    path("request/", views.pack_request, name="request"),
    path("<int:pk>/", views.pack_detail, name="detail"),
    path("<int:pk>/row/", views.pack_row, name="row"),
    path("<int:pk>/download/", views.pack_download, name="download"),
]
