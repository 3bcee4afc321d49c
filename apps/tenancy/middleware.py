from django.conf import settings
from django_tenants.middleware.subfolder import TenantSubfolderMiddleware


class ClientRoutingMiddleware(TenantSubfolderMiddleware):
    """django-tenants' /c/<slug>/ routing, except that an unknown slug is not answered here.

    Answering 404 at once would let anyone signed out tell real client slugs from made-up ones (a real one
    redirects to sign-in). The access middleware answers instead, the same way for both once it knows who
    is asking: sign-in for anonymous visitors, 404 for everyone else.
    """

    def no_tenant_found(self, request, hostname):
        request.unknown_client_slug = hostname
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        return None
