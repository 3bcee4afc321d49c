"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

urlpatterns: list = []
