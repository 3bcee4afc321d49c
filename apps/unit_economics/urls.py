"""Portal routes, mounted at /c/<slug>/finops/unit-economics/ by config/urls_tenant.py."""

from django.urls import path

from . import views

app_name = "unit_economics"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.unit_new, name="unit_new"),
    path("upload/", views.upload, name="upload"),
    path("upload/preview/", views.upload_preview, name="upload_preview"),
    path("upload/commit/", views.upload_commit, name="upload_commit"),
    path("<slug:code>/", views.unit_detail, name="unit"),
    path("<slug:code>/counts/", views.unit_counts, name="counts"),
    path("<slug:code>/edit/", views.unit_edit, name="unit_edit"),
    path("<slug:code>/delete/", views.unit_delete, name="unit_delete"),
]
