"""Daily cost anomalies of one client: the detector's settings, and every day a scope's Usage spend left its
expected range (apps.anomalies.detection explains the baseline). Money is NUMERIC; days are UTC charge days."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import MoneyField


class AnomalySettings(models.Model):
    """One row per client (pk 1): how far from normal a day must be, and how many dollars, before it counts."""

    sensitivity = models.DecimalField(
        "k (robust standard deviations)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("4"),
        validators=[MinValueValidator(Decimal("2")), MaxValueValidator(Decimal("20"))],
        help_text="A day is anomalous when it is more than k × spread away from the expected spend. Higher is "
        "quieter; with normal day-to-day noise, 4 flags about one ordinary day in 2,000.",
    )
    min_impact = MoneyField(
        "minimum impact per day",
        default=Decimal("50"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="A day whose spend is less than this far from the expected spend never counts, in the scope's "
        "own currency.",
    )
    min_impact_percent = models.DecimalField(
        "minimum impact, % of a usual day",
        max_digits=6,
        decimal_places=2,
        default=Decimal("20"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1000"))],
        help_text="…nor a day less than this share of the scope's usual daily spend (median of the last 28 days) "
        "away from it.",
    )
    spread_floor_percent = models.DecimalField(
        "spread floor, % of a usual day",
        max_digits=6,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("100"))],
        help_text="The spread is never taken below this share of the usual day, so flat series do not alarm on cents.",
    )
    baseline_weeks = models.PositiveSmallIntegerField(
        "weeks of weekday history",
        default=8,
        validators=[MinValueValidator(4), MaxValueValidator(8)],
        help_text="The weekday pattern is the median of the same weekday over this many previous weeks.",
    )
    min_history_days = models.PositiveSmallIntegerField(
        "days of history needed",
        default=14,
        validators=[MinValueValidator(14), MaxValueValidator(90)],
        help_text="A scope with less history than this is not judged yet.",
    )
    scan_days = models.PositiveSmallIntegerField(
        "days re-scanned every morning",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(35)],
        help_text="The 06:30 UTC scan judges the last this-many days again, so late and restated bills count.",
    )
    detect_drops = models.BooleanField(
        "flag drops", default=True, help_text="Also flag days far below normal (a service that stopped, lost data)."
    )
    high_impact = MoneyField(
        "high-severity impact",
        default=Decimal("1000"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="A spike costing at least this much more than expected in one day raises a high alert; smaller "
        "ones medium, drops low.",
    )
    alert_max_age_days = models.PositiveSmallIntegerField(
        "alert only for the last … days",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Older days found by a backfill are recorded as anomalies but raise no alert.",
    )
    last_scan_at = models.DateTimeField(null=True, blank=True)
    last_scan = models.JSONField(default=dict, blank=True, help_text="What the last scan judged and found.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "anomaly settings"
        verbose_name_plural = "anomaly settings"

    def __str__(self):
        return "Anomaly detection settings"


class ScopeKind(models.TextChoices):
    CLIENT = "client", "Whole client"
    SERVICE = "service", "Service"
    ACCOUNT = "account", "Billing account"
    ASSET = "asset", "AI asset"


class Direction(models.TextChoices):
    SPIKE = "spike", "Spike"
    DROP = "drop", "Drop"


class Anomaly(models.Model):
    """One scope's Usage spend on one UTC day, far from what its own history expected. Re-scanning the day
    updates this row (one per scope, day and currency); a restated day back in range closes it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    scope_key = models.CharField(
        max_length=200, blank=True, help_text="ServiceName, BillingAccountId or the asset's id; empty for the client."
    )
    scope_label = models.CharField(max_length=300)
    provider_name = models.CharField(max_length=120, blank=True, help_text="The provider billing the scope.")
    day = models.DateField()
    currency = models.CharField(max_length=3)
    actual = MoneyField()
    expected = MoneyField()
    expected_low = MoneyField()
    expected_high = MoneyField()
    impact = MoneyField(help_text="actual − expected: positive for a spike, negative for a drop.")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    score = models.DecimalField(max_digits=10, decimal_places=2, help_text="|actual − expected| ÷ spread.")
    spread = MoneyField(help_text="The robust standard deviation used (1.4826 × MAD of recent errors, floored).")
    typical = MoneyField(help_text="The scope's usual day: median of the 28 days before.")
    details = models.JSONField(default=dict, blank=True, help_text="The baseline's arithmetic, for the detail page.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    status_note = models.TextField(blank=True, help_text="Why it was dismissed or resolved.")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.CharField(max_length=254, blank=True)
    resolved_automatically = models.BooleanField(default=False)
    first_detected_at = models.DateTimeField()
    last_detected_at = models.DateTimeField()
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-day", "-id"]
        verbose_name_plural = "anomalies"
        constraints = [
            models.UniqueConstraint(fields=["scope_kind", "scope_key", "day", "currency"], name="anomaly_one_per_day"),
        ]
        indexes = [
            models.Index(fields=["day"], name="anomaly_day"),
            models.Index(fields=["status", "-day"], name="anomaly_status_day"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} of {self.scope_label} on {self.day:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.ACKNOWLEDGED)

    @property
    def dedup_key(self) -> str:
        return f"cost_anomaly:{self.pk}"
