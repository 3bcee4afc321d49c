"""The AI incident register of one client: incidents, their append-only timeline, the regulatory notifications
they owe (one Obligation per report of each regime that applies, with its due time) and the alerts raised as
each deadline approaches. Times are UTC in the database; pages show them in the client's time zone and in UTC.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.alerts.models import Severity


class IncidentKind(models.TextChoices):
    HALLUCINATION_HARM = "hallucination_harm", "Hallucination caused harm"
    UNSAFE_ACTION = "unsafe_action", "Unsafe action by an agent"
    DATA_LEAK = "data_leak", "Data leak"
    BIAS = "bias", "Bias or discrimination"
    OUTAGE = "outage", "Outage"
    COST_RUNAWAY = "cost_runaway", "Cost runaway"
    SECURITY = "security", "Security incident"
    OTHER = "other", "Other"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    CONTAINED = "contained", "Contained"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class SourceKind(models.TextChoices):
    MANUAL = "manual", "Recorded by hand"
    RUNAWAY = "runaway", "Runaway spend incident"
    ANOMALY = "anomaly", "Cost anomaly"
    ALERT = "alert", "Alert"


class AIIncident(models.Model):
    """One AI incident. `aware_at` starts most regulatory clocks; `classified_major_at` starts DORA's."""

    ACTIVE = (IncidentStatus.OPEN, IncidentStatus.INVESTIGATING, IncidentStatus.CONTAINED)

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    status = models.CharField(max_length=14, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="ai_incidents")
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When it began, if known.")
    detected_at = models.DateTimeField(help_text="When it was first noticed (by Keel or a person).")
    aware_at = models.DateTimeField(
        help_text="When the organisation became aware of it: starts the AI Act, NIS2 and GDPR clocks."
    )
    classified_major_at = models.DateTimeField(
        null=True, blank=True, help_text="DORA: when it was classified as a major ICT-related incident."
    )
    breach_determined_at = models.DateTimeField(
        null=True, blank=True, help_text="PIPEDA: when it was determined that a breach occurred (else awareness)."
    )
    personal_data = models.BooleanField(default=False)
    personal_data_categories = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    people_affected = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    remediation = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    owner_email = models.EmailField(blank=True)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.MANUAL)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    source_label = models.CharField(max_length=300, blank=True)
    regimes = ArrayField(models.CharField(max_length=60), default=list, blank=True, help_text="Regime ids that apply.")
    flags = ArrayField(
        models.CharField(max_length=60), default=list, blank=True, help_text="Facts that switch reports on."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-aware_at", "-id"]
        constraints = [
            # One incident per runaway incident, anomaly or alert: opening it twice finds the first.
            models.UniqueConstraint(
                fields=["source_kind", "source_id"],
                condition=~models.Q(source_kind="manual"),
                name="ai_incident_one_per_source",
            ),
            models.CheckConstraint(
                condition=models.Q(source_kind="manual") | models.Q(source_id__isnull=False),
                name="ai_incident_source_has_id",
            ),
        ]
        indexes = [models.Index(fields=["status", "-aware_at"], name="ai_incident_status_aware")]

    def __str__(self):
        return f"AI incident #{self.pk}: {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def reference(self) -> str:
        return f"AI-{self.pk}"


class IncidentEvent(models.Model):
    """One line of an incident's timeline. Append-only: the database refuses UPDATE and DELETE (migration 0002)."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS = "status", "Status changed"
        NOTE = "note", "Note"
        NOTIFICATION_SENT = "notification_sent", "Notification sent"
        CLOCK_STARTED = "clock_started", "Clock started"
        LINKED = "linked", "Linked"

    incident = models.ForeignKey(AIIncident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField()
    actor = models.CharField(max_length=254, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.text[:60]}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Timeline events are append-only: add a new event instead of changing one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only and cannot be deleted.")


class Obligation(models.Model):
    """One report (or record) an incident owes under one regime, with the clock that runs for it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBMITTED = "submitted", "Submitted"
        NOT_REQUIRED = "not_required", "Not required"

    incident = models.ForeignKey(AIIncident, on_delete=models.CASCADE, related_name="obligations")
    regime = models.CharField(max_length=60)
    report = models.CharField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order of the report in the regimes file.")
    t0_event = models.CharField(max_length=80, help_text="awareness, classification_as_major, report:<id> …")
    t0_at = models.DateTimeField(null=True, blank=True, help_text="When the clock started; empty while it waits.")
    due_kind = models.CharField(
        max_length=24, help_text="duration, as_soon_as_feasible, without_undue_delay, on_request"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    base_due_at = models.DateTimeField(null=True, blank=True, help_text="Before the weekend/holiday rule moved it.")
    due_estimated = models.BooleanField(
        default=False, help_text="The clock has not started: due_at is estimated from the previous report's due time."
    )
    due_capped = models.BooleanField(default=False)
    keep_until = models.DateTimeField(null=True, blank=True, help_text="Records: end of the retention period.")
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.PENDING)
    not_required_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="The latest submission (updates included).")
    first_submitted_at = models.DateTimeField(null=True, blank=True)
    submissions = models.PositiveSmallIntegerField(default=0)
    reference = models.CharField(max_length=200, blank=True, help_text="The authority's reference or a filing id.")
    submitted_by = models.CharField(max_length=254, blank=True)
    submission_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["incident", "regime", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "regime", "report"], name="obligation_one_per_report"),
            models.CheckConstraint(
                condition=~models.Q(status="not_required") | ~models.Q(not_required_reason=""),
                name="obligation_not_required_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="obligation_status_due")]

    def __str__(self):
        return f"{self.regime} {self.report} of incident {self.incident_id}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class ObligationAlert(models.Model):
    """Firing state of the deadline alerts: one row per (obligation, stage, due time). The unique constraint is
    what makes each stage alert once, whatever restarts or repeats; a due time that moves re-arms the stages."""

    class Stage(models.TextChoices):
        HALF = "half", "Half the time used"
        FINAL = "final", "Deadline close"
        OVERDUE = "overdue", "Overdue"
        REMINDER = "reminder", "Daily reminder"

    obligation = models.ForeignKey(Obligation, on_delete=models.CASCADE, related_name="alerts_fired")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    due_key = models.CharField(max_length=40, help_text="The due time alerted for, or the local day of a reminder.")
    fired_at = models.DateTimeField()
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    raised_alert = models.BooleanField(default=True, help_text="False when a later stage reached at once carried it.")

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["obligation", "stage", "due_key"], name="obligation_alert_once"),
        ]

    def __str__(self):
        return f"{self.obligation} {self.stage} {self.due_key}"


class IncidentSettings(models.Model):
    """One row per client (pk 1): the facts that decide which regimes Keel suggests and how DORA's weekend rule
    applies. Defaults are guessed from the client's industry and data residency the first time it is read."""

    class DoraWeekendRule(models.TextChoices):
        ALL = "all", "Relief for every report (RTS 2025/301 Art 5(4))"
        FINAL_ONLY = (
            "final_only",
            ("Final report only: credit institution, central counterparty, trading venue or NIS2 entity (Art 5(5))"),
        )
        NONE = "none", "No relief: withdrawn by the competent authority (Art 5(6))"

    dora_financial_entity = models.BooleanField(
        "EU financial entity under DORA",
        default=False,
        help_text="Keel suggests DORA for ICT incidents (outage, security, data leak, cost runaway).",
    )
    dora_weekend_rule = models.CharField(
        "DORA weekend and holiday relief",
        max_length=12,
        choices=DoraWeekendRule.choices,
        default=DoraWeekendRule.FINAL_ONLY,
        help_text="A deadline on a weekend day or bank holiday may be met by 12:00 of the next working day.",
    )
    bank_holidays = ArrayField(
        models.DateField(),
        default=list,
        blank=True,
        help_text="Bank holidays of the Member State (local dates) for DORA's rule; weekends are known already.",
    )
    nis2_entity = models.BooleanField(
        "Essential or important entity under NIS2",
        default=False,
        help_text="Keel suggests NIS2 for significant incidents (outage, security, data leak, cost runaway).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "incident settings"
        verbose_name_plural = "incident settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="incident_settings_singleton")]

    def __str__(self):
        return "AI incident settings"
