from django.conf import settings
from django.db import connection


def keel(request):
    """What the base layout needs: the MSP's name, the current client, the user's access and clients."""
    tenant = getattr(request, "tenant", None)
    client = tenant if tenant is not None and tenant.schema_name != "public" else None
    access = getattr(request, "access", None)
    context = {"msp_name": settings.KEEL_MSP_NAME, "current_client": client, "access": access}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and access is not None and access.user is not None:
        from apps.accounts.access import clients_for_user

        context["switcher_clients"] = clients_for_user(user).only("slug", "name") if user.is_msp_staff or client else []
    if client is not None and access is not None and access.can("view"):
        from django_tenants.utils import schema_context

        from apps.alerts.selectors import alert_counts
        from apps.inventory.selectors import open_findings_count

        with schema_context(connection.schema_name):
            context["workspace_alert_counts"] = alert_counts()
            context["workspace_open_findings"] = open_findings_count()
    return context
