"""Provisioning and lifecycle of clients. Staff actions are audited in the public chain."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from apps.audit.services import audit_record, snapshot, snapshot_stored

from .models import Client, Domain

EDITABLE_FIELDS = (
    "name",
    "industry",
    "time_zone",
    "reporting_currency",
    "data_residency_region",
    "service_tier",
    "sla_tier",
    "monthly_retainer",
)


def public_client_ensure(*, msp_name: str) -> Client:
    """The public schema needs its own Client row (django-tenants routes MSP pages to it)."""
    client = Client.objects.filter(schema_name="public").first()
    if client is None:
        client = Client(
            schema_name="public", slug="msp", name=msp_name, kind=Client.Kind.MSP, lifecycle=Client.Lifecycle.ACTIVE
        )
        client.save()
    return client


def _schema_name_for(slug: str) -> str:
    return "c_" + slug.replace("-", "_")


def client_create(
    *,
    slug: str,
    name: str,
    time_zone: str = "UTC",
    reporting_currency: str = "USD",
    data_residency_region: str = "us",
    service_tier: str = Client.ServiceTier.PROFESSIONAL,
    sla_tier: str = Client.SlaTier.SILVER,
    monthly_retainer: Decimal = Decimal("0"),
    industry: str = "",
    lifecycle: str = Client.Lifecycle.ONBOARDING,
) -> Client:
    """Create the client row, its schema (cloned from the template) and its routing slug."""
    slug = slug.strip().lower()
    schema_name = _schema_name_for(slug)
    if Client.objects.filter(slug=slug).exists() or schema_exists(schema_name):
        raise ValidationError({"slug": f"A client with the slug {slug!r} already exists."})
    client = Client(
        schema_name=schema_name,
        slug=slug,
        name=name.strip(),
        time_zone=time_zone,
        reporting_currency=reporting_currency,
        data_residency_region=data_residency_region,
        service_tier=service_tier,
        sla_tier=sla_tier,
        monthly_retainer=Decimal(monthly_retainer),
        industry=industry,
        lifecycle=lifecycle,
    )
    client.full_clean(exclude=["schema_name"])
    with schema_context("public"):
        client.save(verbosity=0)  # creates the schema (apps.tenancy.provisioning)
        with transaction.atomic():
            Domain.objects.create(domain=slug, tenant=client, is_primary=True)
            audit_record(action="client.create", target=client, after=snapshot(client, ["slug", *EDITABLE_FIELDS]))
    return client


def client_update(*, client: Client, **changes) -> Client:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    before = snapshot_stored(client, list(EDITABLE_FIELDS))
    for field, value in changes.items():
        setattr(client, field, value)
    client.full_clean(exclude=["schema_name"])
    with schema_context("public"), transaction.atomic():
        client.save(update_fields=list(changes))
        audit_record(
            action="client.update", target=client, before=before, after=snapshot(client, list(EDITABLE_FIELDS))
        )
    return client


ALLOWED_TRANSITIONS = {
    Client.Lifecycle.ONBOARDING: {Client.Lifecycle.ACTIVE, Client.Lifecycle.OFFBOARDED},
    Client.Lifecycle.ACTIVE: {Client.Lifecycle.OFFBOARDED},
    Client.Lifecycle.OFFBOARDED: set(),
}


def client_set_lifecycle(*, client: Client, lifecycle: str) -> Client:
    if lifecycle == client.lifecycle:
        return client
    if lifecycle not in ALLOWED_TRANSITIONS[client.lifecycle]:
        raise ValidationError(
            f"A client cannot go from {client.get_lifecycle_display()} to {Client.Lifecycle(lifecycle).label}."
        )
    before = {"lifecycle": client.lifecycle}
    client.lifecycle = lifecycle
    client.offboarded_at = timezone.now() if lifecycle == Client.Lifecycle.OFFBOARDED else None
    with schema_context("public"), transaction.atomic():
        client.save(update_fields=["lifecycle", "offboarded_at"])
        audit_record(action="client.lifecycle", target=client, before=before, after={"lifecycle": lifecycle})
    return client
