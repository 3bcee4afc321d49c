"""Savings recommendations: what Keel found in a client's own data (or a person proposed), the arithmetic behind
each estimate, the decision taken on it, and — once implemented — the saving actually realised each month.

The estimate of a recommendation is per month, computed over the last 30 UTC days of data. Refreshing is
idempotent: a finding is identified by its fingerprint, so the same finding updates its figures and keeps the
decision taken on it (see apps.recommendations.services.recommendations_refresh).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    MODEL_ROUTING = "model_routing", "Model routing"
    PROMPT_CACHING = "prompt_caching", "Prompt caching"
    SMALLER_MODEL = "smaller_model", "Smaller or open-weight model"
    COMMITMENT = "commitment", "Commitment discount"
    IDLE_ENDPOINT = "idle_endpoint", "Idle endpoint"
    DEPRECATED_MODEL = "deprecated_model", "Deprecated model"


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
    IMPLEMENTED = "implemented", "Implemented"


class ScopeKind(models.TextChoices):
    ASSET = "asset", "AI asset"
    MODEL = "model", "Model"
    SERVICE = "service", "Service"
    ENDPOINT = "endpoint", "Endpoint"
    ACCOUNT = "account", "Account or project"


class Origin(models.TextChoices):
    GENERATED = "generated", "Found by Keel"
    PROPOSED = "proposed", "Proposed by a person"


class Method(models.TextChoices):
    """How the realised saving is measured: unit cost before vs now, times the current volume."""

    PER_UNIT = "per_unit", "Cost per business unit"
    PER_REQUEST = "per_request", "Cost per request"
    PER_1M_TOKENS = "per_1m_tokens", "Cost per 1 M tokens"
    PER_DAY = "per_day", "Cost per day"
    PER_LIST_DOLLAR = "per_list_dollar", "Effective cost per unit of list cost"


def _money():
    # Exact to the ledger's own 12 places: an estimate is tokens × per-token prices and must not round.
    return models.DecimalField(max_digits=30, decimal_places=12)


class Recommendation(models.Model):
    fingerprint = models.CharField(max_length=64, unique=True, help_text="Stable id of the finding (SHA-256).")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.GENERATED)
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)

    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    scope_label = models.CharField(max_length=300)
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=200, blank=True)
    service = models.CharField(max_length=200, blank=True)
    account = models.CharField(max_length=200, blank=True, help_text="Sub-account, project or workspace.")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    dismiss_reason = models.TextField(blank=True)
    status_note = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.CharField(max_length=254, blank=True)
    implemented_on = models.DateField(null=True, blank=True)

    estimated_monthly_saving = _money()
    currency = models.CharField(max_length=3)
    steps = models.JSONField(default=list, blank=True, help_text="The arithmetic: [{label, formula, value}].")
    evidence = models.JSONField(default=list, blank=True, help_text="[{label, value, ledger: {from, to, filters}}].")
    measure = models.JSONField(default=dict, blank=True, help_text="What the realised saving is measured on.")
    parameters = models.JSONField(default=dict, blank=True, help_text="A proposal's inputs, recomputed on refresh.")
    window_start = models.DateField(help_text="First UTC day of the data behind the estimate.")
    window_end = models.DateField(help_text="Last UTC day (inclusive).")

    baseline_start = models.DateField(null=True, blank=True)
    baseline_end = models.DateField(null=True, blank=True, help_text="Inclusive.")
    baseline_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    baseline_volume = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    baseline_unit_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    baseline_currency = models.CharField(max_length=3, blank=True)

    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-estimated_monthly_saving", "id"]
        indexes = [models.Index(fields=["status", "-estimated_monthly_saving"], name="rec_status_saving")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="dismissed") | ~models.Q(dismiss_reason=""),
                name="rec_dismissed_has_reason",
                violation_error_message="A dismissed recommendation needs the reason.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="implemented") | models.Q(implemented_on__isnull=False),
                name="rec_implemented_has_date",
                violation_error_message="An implemented recommendation needs the date it was implemented.",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def method(self) -> str:
        return (self.measure or {}).get("method", "")

    @property
    def method_label(self) -> str:
        return Method(self.method).label if self.method in Method.values else ""

    @property
    def decided(self) -> bool:
        return self.status != Status.OPEN


class RealisedSaving(models.Model):
    """One month of an implemented recommendation's saving: (baseline unit cost − the month's unit cost) × the
    month's volume, from the client's own data. Recomputed on every refresh."""

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="realised")
    month = models.DateField(help_text="First day of the month.")
    first_day = models.DateField()
    last_day = models.DateField(help_text="Inclusive.")
    amount = _money()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=20, choices=Method.choices)
    cost = _money()
    volume = models.DecimalField(max_digits=30, decimal_places=12)
    unit_cost = models.DecimalField(max_digits=30, decimal_places=12)
    baseline_unit_cost = models.DecimalField(max_digits=30, decimal_places=12)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["month", "recommendation_id"]
        constraints = [models.UniqueConstraint(fields=["recommendation", "month"], name="realised_saving_unique")]

    def __str__(self):
        return f"{self.recommendation_id} {self.month:%Y-%m} {self.amount} {self.currency}"


class RecommendationSettings(models.Model):
    """The client's thresholds and assumptions (one row). Every assumption appears in the arithmetic it feeds."""

    routing_max_input_tokens = models.PositiveIntegerField(
        default=1000, help_text="A prompt under this many input tokens counts as short (model routing)."
    )
    caching_min_repeats = models.PositiveIntegerField(
        default=10, help_text="Calls with the same prompt hash before caching is recommended."
    )
    caching_min_days = models.PositiveSmallIntegerField(
        default=2, help_text="…on at least this many days (a burst on one day is a loop, not a cacheable prompt)."
    )
    caching_low_share_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("20"), help_text="Cache-read share of input below this is low."
    )
    caching_target_share_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("50"),
        help_text="Cache-read share of input assumed reachable with prompt caching.",
    )
    small_min_requests = models.PositiveIntegerField(
        default=20000, help_text="Calls in 30 days for a workload to count as high-volume."
    )
    small_max_output_tokens = models.PositiveIntegerField(
        default=600, help_text="Average output tokens per call of a simple task."
    )
    small_max_input_tokens = models.PositiveIntegerField(
        default=8000, help_text="Average input tokens per call of a simple task."
    )
    open_weight_model = models.CharField(
        max_length=300,
        blank=True,
        default="groq/openai/gpt-oss-20b",
        help_text="Catalog key of the open-weight model offered as the alternative for simple tasks (blank: none).",
    )
    commitment_discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("30"),
        help_text="Discount assumed for a 1-year compute commitment (savings plan, reservation, CUD).",
    )
    deprecation_horizon_days = models.PositiveSmallIntegerField(
        default=90, help_text="Models retiring within this many days are flagged."
    )
    min_monthly_saving = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("25"),
        help_text="Findings saving less than this per month (in their currency) are not listed; deprecations always.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        verbose_name_plural = "recommendation settings"

    def __str__(self):
        return "Recommendation settings"


class RefreshRun(models.Model):
    """One run of the generators: when, why, and what changed (shown on the list page)."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Daily schedule"
        MANUAL = "manual", "Refresh now"
        DEMO = "demo", "Demo data"

    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    as_of = models.DateField(help_text="Data up to the day before.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=254, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    realised = models.PositiveIntegerField(default=0, help_text="Implemented recommendations measured.")
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.trigger}"
