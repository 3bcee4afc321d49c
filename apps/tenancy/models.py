import zoneinfo

from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.core.fields import MoneyField

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$",
    "Use 3–40 lower-case letters, digits or dashes, starting with a letter.",
)
TIME_ZONE_CHOICES = sorted((tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz or tz == "UTC")
CURRENCY_CHOICES = [(c, c) for c in ("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK")]


class Client(TenantMixin):
    """One MSP client = one PostgreSQL schema. The public row (schema 'public') stands for the MSP itself."""

    class Lifecycle(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        OFFBOARDED = "offboarded", "Offboarded"

    class Kind(models.TextChoices):
        MSP = "msp", "MSP (public schema)"
        CLIENT = "client", "Client"

    class ServiceTier(models.TextChoices):
        ESSENTIAL = "essential", "Essential"
        PROFESSIONAL = "professional", "Professional"
        ENTERPRISE = "enterprise", "Enterprise"

    class SlaTier(models.TextChoices):
        BRONZE = "bronze", "Bronze"
        SILVER = "silver", "Silver"
        GOLD = "gold", "Gold"

    slug = models.CharField(max_length=40, unique=True, validators=[SLUG_VALIDATOR])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CLIENT)
    industry = models.CharField(max_length=100, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    reporting_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    data_residency_region = models.CharField(
        max_length=40, default="us", help_text="Where this client's data must stay, e.g. eu, ca, us."
    )
    service_tier = models.CharField(max_length=20, choices=ServiceTier.choices, default=ServiceTier.PROFESSIONAL)
    sla_tier = models.CharField(max_length=10, choices=SlaTier.choices, default=SlaTier.SILVER)
    monthly_retainer = MoneyField(default=0)
    lifecycle = models.CharField(max_length=12, choices=Lifecycle.choices, default=Lifecycle.ONBOARDING)
    created_at = models.DateTimeField(auto_now_add=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_client(self) -> bool:
        return self.kind == self.Kind.CLIENT

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """django-tenants' hook: Keel builds the schema from the migrations' SQL (apps.tenancy.provisioning)."""
        if not sync_schema:
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        from .provisioning import schema_create

        schema_create(schema_name=self.schema_name, verbosity=verbosity)
        return True

    def get_absolute_url(self) -> str:
        return f"/c/{self.slug}/"


class Domain(DomainMixin):
    """In subfolder routing the 'domain' is the URL slug: /c/<domain>/."""
