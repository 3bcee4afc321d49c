from django.db import models

from apps.core.fields import EncryptedTextField


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3, Severity.INFO: 4}


class Alert(models.Model):
    """Anything that needs a person: anomalies, budgets, SLA burn, evidence expiry, drift, failed jobs…

    A repeating condition carries the same dedup_key and updates the one open alert instead of adding more.
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=40, db_index=True, help_text="e.g. cost_anomaly, budget, slo_burn")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    severity_rank = models.PositiveSmallIntegerField(default=2, db_index=True)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    dedup_key = models.CharField(max_length=200, db_index=True)
    link = models.CharField(max_length=500, blank=True, help_text="Workspace path of the thing this is about.")
    data = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=14, choices=State.choices, default=State.OPEN, db_index=True)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    owner_email = models.CharField(max_length=254, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=254, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["severity_rank", "-last_seen_at"]
        constraints = [
            # At most one unresolved alert per condition.
            models.UniqueConstraint(
                fields=["dedup_key"], condition=~models.Q(state="resolved"), name="alert_one_open_per_dedup_key"
            )
        ]
        indexes = [models.Index(fields=["state", "severity_rank", "-last_seen_at"])]

    def __str__(self):
        return self.subject

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED


class AlertEvent(models.Model):
    """The alert's history: raised, repeated, acknowledged, resolved, reopened, notes, deliveries."""

    class Kind(models.TextChoices):
        RAISED = "raised", "Raised"
        REPEATED = "repeated", "Seen again"
        ESCALATED = "escalated", "Severity raised"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        REOPENED = "reopened", "Reopened"
        NOTE = "note", "Note"
        ASSIGNED = "assigned", "Owner changed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.CharField(max_length=254, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]


class NotificationChannel(models.Model):
    """Where a client's alerts go: email addresses or a webhook (generic JSON, Slack, Teams)."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams workflow webhook"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    target = models.CharField(max_length=1000, help_text="Email addresses (comma-separated) or the webhook URL.")
    signing_secret = EncryptedTextField(blank=True)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    kinds = models.JSONField(default=list, blank=True, help_text="Alert kinds to send; empty means all.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def wants(self, alert: Alert) -> bool:
        if not self.is_active:
            return False
        if SEVERITY_RANK[alert.severity] > SEVERITY_RANK[self.min_severity]:
            return False
        return not self.kinds or alert.kind in self.kinds


class AlertDelivery(models.Model):
    """One attempt-tracked delivery of one alert event to one channel: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=14, default="raised")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
