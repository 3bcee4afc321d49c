"""MSP-level routes: the console, staff administration, sign-in, health, the MSP API and its description."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import views as accounts_views
from apps.audit import views as audit_views
from apps.core import views as core_views
from apps.portfolio import views as portfolio_views
from apps.tenancy import views as tenancy_views

urlpatterns = [
    path("", portfolio_views.console, name="console"),
    path("portfolio/", include("apps.portfolio.urls")),
    path("clients/", tenancy_views.client_list, name="client_list"),
    path("clients/new/", tenancy_views.client_create, name="client_create"),
    path("staff/", accounts_views.staff, name="staff"),
    path("staff/<int:user_id>/assign/", accounts_views.staff_assign, name="staff_assign"),
    path("staff/assignments/<int:pk>/remove/", accounts_views.staff_unassign, name="staff_unassign"),
    path("staff/api-keys/", accounts_views.staff_api_keys, name="staff_api_keys"),
    path("staff/api-keys/<int:pk>/revoke/", accounts_views.api_key_revoke, name="staff_api_key_revoke"),
    path("frameworks/", include("apps.frameworks.urls")),
    path("assessments/", include("apps.assessment_templates.urls")),
    path("audit/", audit_views.audit_list, name="msp_audit"),
    path("jobs/", tenancy_views.task_runs, name="msp_jobs"),
    path("accounts/mfa-required/", accounts_views.mfa_required, name="mfa_required"),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:token>/", accounts_views.invitation_accept, name="invitation_accept"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls_schema"), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/v1/", include("apps.api.urls_public")),
]

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
