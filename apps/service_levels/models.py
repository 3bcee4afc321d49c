"""Service levels of one client (tenant schema): SLOs, their measurements, live error budgets, closed periods,
immutable breaches with the service credits they owe, business-hours calendars, and drift checks.

Measurements are kept as submitted (idempotent by key) and rolled up per minute (`SliMinute`): the evaluator
and the charts read the rollup, so a burst of latency samples costs the same to evaluate as one probe a minute.
Ratios (objective, attainment, budget) are exact decimals in [0, 1]; money is Decimal.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import MoneyField

RATIO = {"max_digits": 9, "decimal_places": 8}


class SliKind(models.TextChoices):
    AVAILABILITY = "availability", "Availability"
    LATENCY = "latency", "Latency"
    QUALITY = "quality", "Quality / accuracy"
    HALLUCINATION = "hallucination", "Hallucination rate"
    DRIFT = "drift", "Drift"
    INTEGRATION = "integration", "Integration success"
    INCIDENT_RESPONSE = "incident_response", "Incident first response"
    INCIDENT_RESOLUTION = "incident_resolution", "Incident resolution"
    BUDGET_ADHERENCE = "budget_adherence", "Budget adherence"


INCIDENT_KINDS = (SliKind.INCIDENT_RESPONSE, SliKind.INCIDENT_RESOLUTION)


class BusinessCalendar(models.Model):
    """Working hours for response and resolution clocks (PSA style): weekly intervals in a time zone, public
    holidays of a country (the `holidays` package) plus the client's own closed days."""

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    hours = models.JSONField(
        default=dict, help_text='{"mon": [["09:00", "17:00"]], …}; days left out are closed. Empty = 24×7.'
    )
    holiday_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, e.g. CA")
    holiday_subdivision = models.CharField(max_length=10, blank=True, help_text="e.g. ON")
    extra_holidays = ArrayField(models.DateField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name


class SLO(models.Model):
    class WindowKind(models.TextChoices):
        CALENDAR_MONTH = "calendar_month", "Calendar month"
        ROLLING = "rolling", "Rolling days"

    class Budgeting(models.TextChoices):
        OCCURRENCES = "occurrences", "Occurrences"
        TIMESLICES = "timeslices", "Time slices"

    class Source(models.TextChoices):
        PUSHED = "pushed", "Pushed through the API"
        KEEL = "keel", "Computed by Keel"

    class KeelSource(models.TextChoices):
        NONE = "", "—"
        INCIDENTS = "incidents", "AI incidents"
        ALERTS = "alerts", "Alerts (acknowledge and resolve)"
        BILLING_RUNS = "billing_runs", "Billing ingestion runs"
        BUDGETS = "budgets", "Budgets"
        DRIFT_CHECKS = "drift_checks", "Drift checks"

    name = models.SlugField(max_length=63, unique=True, help_text="RFC 1123 name, as in OpenSLO metadata.name")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=1050)
    asset = models.ForeignKey(
        "inventory.Asset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="slos",
        help_text="Empty: the service as a whole.",
    )
    sli_kind = models.CharField(max_length=20, choices=SliKind.choices)
    objective = models.DecimalField(
        **RATIO,
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("0.99999999"))],
        help_text="Target share of good events or slices, e.g. 0.999",
    )
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Latency: ms an event may take; quality: lowest passing score; drift: the statistic's limit; "
        "incidents: business minutes allowed.",
    )
    window_kind = models.CharField(max_length=16, choices=WindowKind.choices, default=WindowKind.CALENDAR_MONTH)
    window_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(366)], help_text="Rolling windows only."
    )
    budgeting = models.CharField(max_length=12, choices=Budgeting.choices, default=Budgeting.OCCURRENCES)
    timeslice_minutes = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1440)]
    )
    timeslice_target = models.DecimalField(
        **RATIO, default=Decimal("0.95"), help_text="A slice is good when this share of its events is good."
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PUSHED)
    keel_source = models.CharField(max_length=14, choices=KeelSource.choices, blank=True, default="")
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="slos",
        help_text="Incident clocks only; empty = 24×7.",
    )
    incident_severities = ArrayField(
        models.CharField(max_length=10), default=list, blank=True, help_text="Incident SLOs: severities counted."
    )
    credit_tiers = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"below": "99.0", "credit_percent": "10"}, …]: attainment (%) under `below` owes the credit.',
    )
    min_events = models.PositiveIntegerField(
        default=1, help_text="Burn-rate alerts need at least this many events in the short window (low traffic)."
    )
    alerting = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(help_text="Rolling windows count whole periods from here.")
    owner_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(objective__gt=0) & models.Q(objective__lt=1), name="slo_objective_in_0_1"
            ),
            models.CheckConstraint(
                condition=models.Q(timeslice_target__gt=0) & models.Q(timeslice_target__lte=1),
                name="slo_timeslice_target_in_0_1",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def error_budget(self) -> Decimal:
        return 1 - self.objective


class SloStatus(models.Model):
    """The SLO's live state, rewritten by every evaluation (one row per SLO)."""

    class State(models.TextChoices):
        NO_DATA = "no_data", "No data"
        OK = "ok", "Within budget"
        AT_RISK = "at_risk", "At risk"
        EXHAUSTED = "exhausted", "Budget exhausted"

    class AlertLevel(models.TextChoices):
        NONE = "", "—"
        TICKET = "ticket", "Ticket"
        PAGE = "page", "Page"

    slo = models.OneToOneField(SLO, on_delete=models.CASCADE, primary_key=True, related_name="status")
    evaluated_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    good = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    attainment = models.DecimalField(**RATIO, null=True, blank=True)
    budget_remaining = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True, help_text="1 = untouched, 0 = spent, < 0 = over."
    )
    burn_rates = models.JSONField(default=dict, help_text='{"5m": "0.0", "1h": …} as decimal strings')
    alert_level = models.CharField(max_length=8, choices=AlertLevel.choices, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NO_DATA)


class Measurement(models.Model):
    """One submitted observation: a probe, a sample, a histogram, an evaluation, a judgement, an incident.

    `key` makes submission idempotent: the same key again replaces the observation (late corrections)."""

    class Origin(models.TextChoices):
        API = "api", "API"
        KEEL = "keel", "Keel"

    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="measurements")
    key = models.CharField(max_length=200)
    at = models.DateTimeField(help_text="When it happened (UTC); incidents: when opened")
    good = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    pending = models.BooleanField(default=False, help_text="An open incident whose clock is still running.")
    origin = models.CharField(max_length=4, choices=Origin.choices, default=Origin.API)
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slo", "key"], name="measurement_one_per_key")]
        indexes = [models.Index(fields=["slo", "at"], name="measurement_slo_at")]


class SliMinute(models.Model):
    """Good and total events per SLO and UTC minute: the rollup every budget and burn rate is computed from."""

    pk = models.CompositePrimaryKey("slo_id", "minute")
    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    good = models.BigIntegerField()
    total = models.BigIntegerField()


class SloPeriod(models.Model):
    """A closed window's result. Late data recomputes it (revision + 1); a breach once recorded stays."""

    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="periods")
    start = models.DateTimeField()
    end = models.DateTimeField()
    label = models.CharField(max_length=40, help_text="e.g. 2026-11 or 2026-11-01 – 2026-11-30")
    good = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    attainment = models.DecimalField(**RATIO, null=True, blank=True)
    met = models.BooleanField(null=True, help_text="Empty: no data in the period.")
    budget_consumed = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    revision = models.PositiveIntegerField(default=1)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["-start"]
        constraints = [models.UniqueConstraint(fields=["slo", "start"], name="slo_period_one_per_start")]


class Breach(models.Model):
    """A window that closed below its objective. Append-only in the database (a trigger refuses UPDATE and
    DELETE), with what the SLO said at the time so a later edit of the SLO cannot rewrite history."""

    slo = models.ForeignKey(SLO, on_delete=models.PROTECT, related_name="breaches")
    period = models.ForeignKey(SloPeriod, on_delete=models.PROTECT, related_name="breaches")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    period_label = models.CharField(max_length=40)
    objective = models.DecimalField(**RATIO)
    attainment = models.DecimalField(**RATIO)
    good = models.BigIntegerField()
    total = models.BigIntegerField()
    budget_consumed = models.DecimalField(max_digits=14, decimal_places=8)
    incident_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    slo_snapshot = models.JSONField(default=dict)
    credit_percent = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0"))
    credit_amount = MoneyField(default=Decimal("0"))
    currency = models.CharField(max_length=3)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "slo_id"]


class ServiceCredit(models.Model):
    """What a breach owes the client under its contract tiers; the amount is fixed when recorded, only the
    settlement status moves (due → issued, or waived with a reason)."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        ISSUED = "issued", "Issued"
        WAIVED = "waived", "Waived"

    breach = models.OneToOneField(Breach, on_delete=models.PROTECT, related_name="credit")
    month = models.DateField(help_text="First day of the contract month the breach closed in (client time)")
    percent = models.DecimalField(max_digits=6, decimal_places=2)
    amount = MoneyField()
    currency = models.CharField(max_length=3)
    capped = models.BooleanField(default=False, help_text="Reduced so the month's credits stay within 100 %.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DUE)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-month", "-id"]


class DriftMonitor(models.Model):
    """One feature or score of a model or pipeline, with its pinned reference distribution."""

    class Kind(models.TextChoices):
        NUMERIC = "numeric", "Numeric"
        CATEGORICAL = "categorical", "Categorical"

    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="drift_monitors")
    feature = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NUMERIC)
    reference = models.JSONField(
        default=dict, help_text="Profile: bin edges and counts (numeric) or category counts, n, optional sample"
    )
    reference_label = models.CharField(max_length=200, blank=True)
    psi_warn = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.1"))
    psi_alert = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.2"))
    js_alert = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.2"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset_id", "feature"]
        constraints = [models.UniqueConstraint(fields=["asset", "feature"], name="drift_monitor_one_per_feature")]

    def __str__(self):
        return f"{self.asset} · {self.feature}"


class DriftCheck(models.Model):
    """The current window compared with the monitor's reference."""

    class Status(models.TextChoices):
        STABLE = "stable", "Stable"
        MODERATE = "moderate", "Moderate drift"
        SIGNIFICANT = "significant", "Significant drift"

    monitor = models.ForeignKey(DriftMonitor, on_delete=models.CASCADE, related_name="checks")
    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    current = models.JSONField(default=dict, help_text="Profile of the current window on the reference's bins")
    reference = models.JSONField(default=dict, help_text="The reference it was compared with, as it was then")
    n = models.PositiveIntegerField()
    psi = models.DecimalField(max_digits=12, decimal_places=6)
    js = models.DecimalField(max_digits=12, decimal_places=6)
    ks_statistic = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    ks_pvalue = models.FloatField(null=True, blank=True, help_text="Only when both samples have ≤ 1000 values")
    status = models.CharField(max_length=12, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_end", "-id"]
        constraints = [models.UniqueConstraint(fields=["monitor", "key"], name="drift_check_one_per_key")]
        indexes = [models.Index(fields=["monitor", "-window_end"], name="drift_check_monitor_end")]
