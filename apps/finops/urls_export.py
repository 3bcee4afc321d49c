"""The portal's FOCUS export download, included by apps.finops.urls (name: finops:export)."""

from django.urls import path

from . import views_export

urlpatterns = [
    path("export/", views_export.export, name="export"),
]
