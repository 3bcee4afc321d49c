"""Shadow AI: AI spend that no registered asset accounts for, waiting in a review queue.

One ShadowItem per stable identity (see apps.shadow_ai.discovery): a cloud resource, an API key, an agent name, or an
account × service, found either in the ledger (bills) or in the live usage events. Each scan refreshes the figures
of the items it finds and creates the new ones; a person then registers the item as a new asset, maps it to an
existing asset (both create an allocation rule, so the history re-allocates) or dismisses it with a reason.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Origin(models.TextChoices):
    LEDGER = "ledger", "Bills (ledger rows)"
    USAGE = "usage", "Usage events"


class IdentityKind(models.TextChoices):
    RESOURCE = "resource", "Cloud resource"
    API_KEY = "api_key", "API key"
    AGENT = "agent", "Agent"
    ACCOUNT = "account", "Account and service"


class Status(models.TextChoices):
    OPEN = "open", "To review"
    REGISTERED = "registered", "Registered as a new asset"
    MAPPED = "mapped", "Mapped to an existing asset"
    DISMISSED = "dismissed", "Dismissed"
    GONE = "gone", "No longer seen"


DECIDED = (Status.REGISTERED, Status.MAPPED, Status.DISMISSED)


def _money(**kwargs):
    return models.DecimalField(max_digits=24, decimal_places=6, default=Decimal(0), **kwargs)


class ShadowItem(models.Model):
    fingerprint = models.CharField(max_length=64, unique=True, help_text="SHA-256 of origin, kind and identity.")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    identity_kind = models.CharField(max_length=10, choices=IdentityKind.choices)
    identity_value = models.TextField(help_text="The resource id, key, agent name or account the spend is under.")
    label = models.CharField(max_length=300, help_text="A readable name for the queue.")
    provider = models.CharField(max_length=120, blank=True)
    service = models.CharField(max_length=200, blank=True)
    models_seen = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    accounts = models.JSONField(default=list, blank=True, help_text="[{billing_account, sub_account, name}].")
    regions = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    tags = models.JSONField(default=dict, blank=True, help_text="Values seen per tag key (department, team…).")

    first_seen_at = models.DateTimeField(help_text="Earliest charge or call in the scan window.")
    last_seen_at = models.DateTimeField(help_text="Latest charge or call in the scan window.")
    currency = models.CharField(max_length=3)
    cost_30d = _money(help_text="EffectiveCost (bills) or reported cost (events) in the last 30 UTC days.")
    cost_month = _money(help_text="The same, in the current UTC month to date.")
    other_currencies = models.JSONField(default=dict, blank=True, help_text="{currency: {cost_30d, cost_month}}.")
    row_count = models.PositiveIntegerField(default=0, help_text="Ledger rows or usage events behind the figures.")
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    ledger_filters = models.JSONField(default=dict, blank=True, help_text="Filters of the ledger-rows page.")

    suggested_kind = models.CharField(max_length=12, help_text="The inventory asset kind Keel suggests.")
    prefill = models.JSONField(default=dict, blank=True, help_text="Asset fields the register form starts with.")
    department = models.ForeignKey(
        "inventory.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_candidates = models.JSONField(
        default=list,
        blank=True,
        help_text="Rules that would route this spend: {field, key, value, label, other_spend}.",
    )
    details = models.JSONField(default=dict, blank=True, help_text="Other evidence: rules that take the rows today…")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.ForeignKey(
        "finops.AllocationRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismiss_reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=254, blank=True)
    cost_at_decision = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_note = models.CharField(max_length=300, blank=True)

    seen_at = models.DateTimeField(help_text="The last scan that found this spend unregistered.")
    gone_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-cost_30d", "id"]
        indexes = [models.Index(fields=["status", "-cost_30d"], name="shadow_status_cost")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="dismissed") | ~models.Q(dismiss_reason=""),
                name="shadow_dismissed_has_reason",
                violation_error_message="A dismissed item needs the reason.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["registered", "mapped"]) | models.Q(rule__isnull=False),
                name="shadow_decided_has_rule",
                violation_error_message="A registered or mapped item needs its allocation rule.",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def is_decided(self) -> bool:
        return self.status in DECIDED


class ShadowSettings(models.Model):
    """One row per client: when a new item alerts, and when new spend reopens a dismissed one."""

    alert_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("100.00"),
        help_text="A new item whose last-30-day spend reaches this amount (in its own currency) raises an alert.",
    )
    reopen_factor = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text="A dismissed item reopens when its last-30-day spend reaches this multiple of the spend it had "
        "when dismissed…",
    )
    reopen_min_increase = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("100.00"),
        help_text="…and has grown by at least this amount.",
    )
    updated_at = models.DateTimeField(auto_now=True)


class ShadowScan(models.Model):
    """One run of the discovery: when, what triggered it, and what it found."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, help_text="schedule, booking, manual, demo…")
    window_start = models.DateField()
    window_end = models.DateField(help_text="Inclusive.")
    found = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"Shadow AI scan {self.started_at:%Y-%m-%d %H:%M}"
