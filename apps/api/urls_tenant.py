"""The per-client API, mounted at /c/<slug>/api/v1/. Each capability registers its routes here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from apps.accounts.api.views import ApiKeyViewSet, MembershipViewSet
from apps.alerts.api.views import AlertViewSet, ChannelViewSet
from apps.anomalies.api.urls import urlpatterns as anomalies_urls
from apps.assessment_templates.api.urls import urlpatterns as assessment_templates_urls
from apps.assessments.api.urls import urlpatterns as assessments_urls
from apps.audit.api.views import AuditEventViewSet
from apps.auditpacks.api.urls import urlpatterns as auditpacks_urls
from apps.budgets.api.urls import urlpatterns as budgets_urls
from apps.compliance.api.urls import urlpatterns as compliance_urls
from apps.finops.api.urls import urlpatterns as finops_urls
from apps.frameworks.api.urls import urlpatterns as frameworks_urls
from apps.incidents.api.urls import urlpatterns as incidents_urls
from apps.inventory.api.transfer import urlpatterns as inventory_transfer_urls
from apps.inventory.api.views import (
    KIND_VIEWSETS,
    AgentToolViewSet,
    AssetViewSet,
    DepartmentViewSet,
    FindingViewSet,
    GuardrailRuleViewSet,
    PromptVersionViewSet,
    RelationViewSet,
)
from apps.recommendations.api.urls import urlpatterns as recommendations_urls
from apps.reports.api.views import urlpatterns as reports_urls
from apps.runaway.api.urls import urlpatterns as runaway_urls
from apps.service_levels.api.views import urlpatterns as service_levels_urls
from apps.shadow_ai.api.urls import urlpatterns as shadow_ai_urls
from apps.tenancy.api.views import CurrentClientView
from apps.unit_economics.api.urls import urlpatterns as unit_economics_urls

router = DefaultRouter(trailing_slash="/?")
router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-channels", ChannelViewSet, basename="alert-channel")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("departments", DepartmentViewSet, basename="department")
router.register("assets", AssetViewSet, basename="asset")
for prefix, viewset in KIND_VIEWSETS.items():
    router.register(prefix, viewset, basename=prefix.rstrip("s"))
router.register(r"agents/(?P<agent_pk>\d+)/tools", AgentToolViewSet, basename="agent-tool")
router.register(r"prompts/(?P<prompt_pk>\d+)/versions", PromptVersionViewSet, basename="prompt-version")
router.register("asset-relations", RelationViewSet, basename="asset-relation")
router.register("guardrail-findings", FindingViewSet, basename="guardrail-finding")
router.register("guardrail-rules", GuardrailRuleViewSet, basename="guardrail-rule")

urlpatterns = [
    path("client/", CurrentClientView.as_view(), name="client"),
    *inventory_transfer_urls,
    *finops_urls,
    *unit_economics_urls,
    *budgets_urls,
    *anomalies_urls,
    *runaway_urls,
    *shadow_ai_urls,
    *recommendations_urls,
    *frameworks_urls,
    *compliance_urls,
    *incidents_urls,
    *auditpacks_urls,
    *assessment_templates_urls,
    *assessments_urls,
    *service_levels_urls,
    *reports_urls,
    *router.urls,
]
