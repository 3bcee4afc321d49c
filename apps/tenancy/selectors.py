from django.db.models import QuerySet

from .models import Client


def clients_live() -> QuerySet[Client]:
    """Real clients that are not offboarded, in name order."""
    return Client.objects.filter(kind=Client.Kind.CLIENT).exclude(lifecycle=Client.Lifecycle.OFFBOARDED)


def clients_all() -> QuerySet[Client]:
    return Client.objects.filter(kind=Client.Kind.CLIENT)


def schedulable_clients() -> QuerySet[Client]:
    """Schemas Celery beat sends per-client work to: the MSP's own (public) and every live client."""
    return Client.objects.exclude(lifecycle=Client.Lifecycle.OFFBOARDED)


def client_by_slug(slug: str) -> Client | None:
    return clients_all().filter(slug=slug).first()


def all_schemas_with_audit(*, slug: str | None = None) -> list[tuple[str, str]]:
    """(label, schema) pairs for audit verification: the MSP's public schema and client schemas."""
    if slug == "public":
        return [("MSP (public)", "public")]
    qs = clients_all().order_by("slug")
    if slug:
        qs = qs.filter(slug=slug)
        return [(c.slug, c.schema_name) for c in qs]
    return [("MSP (public)", "public")] + [(c.slug, c.schema_name) for c in qs]


def current_client() -> Client | None:
    """The client whose schema the connection is in (schema_context sets a stand-in, not the Client row)."""
    from django.db import connection

    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Client):
        return tenant
    return Client.objects.filter(schema_name=connection.schema_name).first()
