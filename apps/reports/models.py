"""Monthly executive reports: frozen snapshots with versions and a review workflow, their deliveries, and the
client's value inputs the ROI section is computed from."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import MoneyField

# Bumped when the snapshot's shape changes; templates read old versions too.
SNAPSHOT_SCHEMA_VERSION = 1


class ValueSettings(models.Model):
    """One row per client: what an hour of the client's people costs, for the time-saved value."""

    loaded_hourly_rate = MoneyField(
        default=Decimal("0"), help_text="Salary plus overheads for one hour, in the reporting currency."
    )
    rate_basis = models.CharField(
        max_length=200, blank=True, help_text="Where the rate comes from (for the method box)."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    def __str__(self):
        return f"Loaded hourly rate {self.loaded_hourly_rate}"


class ValueDriver(models.Model):
    """How much one business unit of work (a claim, a ticket) gains from AI: minutes saved and errors avoided.
    Volumes come from the unit's counts in Keel; the minutes and error rates are the client's own figures."""

    class Basis(models.TextChoices):
        MEASURED = "measured", "Measured"
        ESTIMATED = "estimated", "Estimated"
        SELF_REPORTED = "self_reported", "Self-reported"

    unit = models.OneToOneField("unit_economics.BusinessUnit", on_delete=models.CASCADE, related_name="value_driver")
    baseline_minutes = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(0)], help_text="Minutes per unit without AI."
    )
    assisted_minutes = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(0)], help_text="Minutes per unit with AI."
    )
    baseline_error_rate = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="% of units with an error before AI (empty: not tracked).",
    )
    current_error_rate = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="% of units with an error now.",
    )
    basis = models.CharField(max_length=14, choices=Basis.choices, default=Basis.ESTIMATED)
    note = models.CharField(max_length=300, blank=True, help_text="How the minutes were measured or estimated.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["unit__name"]

    def __str__(self):
        return f"Value of {self.unit}"


class Report(models.Model):
    """One version of one month's report. Its figures (`data`) are computed once, when the version is created,
    and never change; the account manager adds commentary, reviews and issues it. Once issued, the database
    refuses any change to the figures or commentary (a trigger); a correction is a new version with a reason."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEWED = "reviewed", "Reviewed"
        ISSUED = "issued", "Issued"
        SUPERSEDED = "superseded", "Superseded"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Monthly schedule"
        MANUAL = "manual", "On demand"
        REISSUE = "reissue", "Re-issue"
        DEMO = "demo", "Demo data"

    month = models.DateField(help_text="First day of the month reported on.")
    version = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    reason = models.TextField(blank=True, help_text="Why this version was made (required for a re-issue).")
    schema_version = models.PositiveSmallIntegerField(default=SNAPSHOT_SCHEMA_VERSION)
    data = models.JSONField(help_text="The frozen figures (apps.reports.snapshot).")
    data_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON of `data`.")
    commentary = models.TextField(blank=True, help_text="The account manager's words; never the figures.")
    computed_at = models.DateTimeField()
    created_by = models.CharField(max_length=254, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.CharField(max_length=254, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.CharField(max_length=254, blank=True)
    pdf = models.FileField(max_length=500, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-month", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["month", "version"], name="report_one_version_number"),
            # A month has at most one issued version and at most one in the works (a draft, or reviewed).
            models.UniqueConstraint(fields=["month"], condition=models.Q(status="issued"), name="report_one_issued"),
            models.UniqueConstraint(
                fields=["month"], condition=models.Q(status__in=["draft", "reviewed"]), name="report_one_open"
            ),
        ]

    def __str__(self):
        return f"{self.month:%B %Y} report v{self.version} ({self.status})"

    @property
    def is_frozen(self) -> bool:
        return self.status in (self.Status.ISSUED, self.Status.SUPERSEDED)

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def pdf_name(self) -> str:
        return f"ai-operations-report-{self.month:%Y-%m}-v{self.version}.pdf"


class Delivery(models.Model):
    """One email of an issued report to one recipient; append-only so the log shows every attempt."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.EmailField()
    status = models.CharField(max_length=6, choices=Status.choices)
    error = models.TextField(blank=True)
    attempted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self):
        return f"{self.report} → {self.recipient}: {self.status}"
