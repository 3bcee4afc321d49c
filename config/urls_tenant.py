"""Client workspace routes; django-tenants serves them under /c/<slug>/."""

from django.urls import include, path

from apps.tenancy import views as tenancy_views

urlpatterns = [
    path("", tenancy_views.workspace_home, name="workspace_home"),
    path("alerts/", include("apps.alerts.urls")),
    path("inventory/", include("apps.inventory.urls")),
    path("finops/", include("apps.finops.urls")),
    path("finops/unit-economics/", include("apps.unit_economics.urls")),
    path("finops/budgets/", include("apps.budgets.urls")),
    path("finops/anomalies/", include("apps.anomalies.urls")),
    path("finops/runaway/", include("apps.runaway.urls")),
    path("finops/shadow-ai/", include("apps.shadow_ai.urls")),
    path("finops/recommendations/", include("apps.recommendations.urls")),
    path("compliance/audit-packs/", include("apps.auditpacks.urls")),
    path("compliance/", include("apps.compliance.urls")),
    path("incidents/", include("apps.incidents.urls")),
    path("assessments/", include("apps.assessments.urls")),
    path("service-levels/", include("apps.service_levels.urls")),
    path("reports/", include("apps.reports.urls")),
    path("audit/", include("apps.audit.urls")),
    path("jobs/", tenancy_views.task_runs, name="jobs"),
    path("settings/", tenancy_views.client_settings, name="settings"),
    path("settings/lifecycle/", tenancy_views.client_lifecycle, name="client_lifecycle"),
    path("settings/", include("apps.accounts.urls")),
    path("api/v1/", include("apps.api.urls_tenant")),
]

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
