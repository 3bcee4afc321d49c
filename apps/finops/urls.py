from django.urls import include, path

from . import views

app_name = "finops"
urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("sources/", views.source_list, name="sources"),
    path("sources/new/", views.source_new, name="source_new"),
    path("sources/<int:pk>/", views.source_detail, name="source"),
    path("sources/<int:pk>/edit/", views.source_edit, name="source_edit"),
    path("sources/<int:pk>/delete/", views.source_delete, name="source_delete"),
    path("sources/<int:pk>/test/", views.source_test, name="source_test"),
    path("sources/<int:pk>/run/", views.source_run, name="source_run"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("upload/", views.upload, name="upload"),
    path("upload/preview/", views.upload_preview, name="upload_preview"),
    path("upload/commit/", views.upload_commit, name="upload_commit"),
    path("", include("apps.finops.urls_export")),
    path("", include("apps.finops.urls_dashboard")),
    path("", include("apps.finops.urls_allocation")),
]
