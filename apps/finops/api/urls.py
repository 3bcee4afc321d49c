"""FinOps API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from .usage import urlpatterns as usage_urlpatterns
from .views import urlpatterns as ledger_urlpatterns

urlpatterns = [*usage_urlpatterns, *ledger_urlpatterns]
