"""The MSP-level API, mounted at /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from apps.accounts.api.views import ApiKeyViewSet
from apps.assessment_templates.api.urls import urlpatterns as assessment_templates_urls
from apps.assessment_templates.api.views import PortfolioMaturityView
from apps.audit.api.views import AuditEventViewSet
from apps.catalog.api.views import ModelPriceViewSet
from apps.frameworks.api.urls import urlpatterns as frameworks_urls
from apps.portfolio.api import AlertFeedViewSet, PortfolioSummaryView
from apps.tenancy.api.views import ClientViewSet

router = DefaultRouter(trailing_slash="/?")
router.register("clients", ClientViewSet, basename="client")
router.register("alerts", AlertFeedViewSet, basename="alert-feed")
router.register("api-keys", ApiKeyViewSet, basename="msp-api-key")
router.register("audit-events", AuditEventViewSet, basename="msp-audit-event")
router.register("model-catalog", ModelPriceViewSet, basename="model-catalog")

urlpatterns = [
    path("portfolio/maturity/", PortfolioMaturityView.as_view(), name="portfolio-maturity"),
    path("portfolio/summary/", PortfolioSummaryView.as_view(), name="portfolio-summary"),
    *frameworks_urls,
    *assessment_templates_urls,
    *router.urls,
]
