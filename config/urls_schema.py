"""Only for the OpenAPI document: both API faces, the client one with its /c/{client}/ prefix."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("apps.api.urls_public")),
    path("c/<slug:client>/api/v1/", include("apps.api.urls_tenant")),
]
