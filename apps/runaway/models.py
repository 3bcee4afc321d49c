"""Runaway spend on live usage: the client's detection settings, the incidents the scan opens, and every call
Keel made to an agent's kill-switch. Money is NUMERIC; times are UTC."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import EncryptedTextField, MoneyField


class RunawaySettings(models.Model):
    """One row per client (pk 1): the thresholds of the scan and whether Keel may stop agents by itself."""

    enabled = models.BooleanField(default=True, help_text="Scan this client's usage events every minute.")
    baseline_multiplier = models.DecimalField(
        "baseline multiplier (k)",
        max_digits=8,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("1.5"))],
        help_text="Alarm when the last 10 minutes cost more than k times the scope's usual 10 minutes at this hour "
        "(median of the same hour over the last 7 days).",
    )
    min_spend_10m = MoneyField(
        "floor per 10 minutes",
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Spend in 10 minutes below this never alarms on the baseline, so tiny baselines stay quiet.",
    )
    max_spend_per_minute = MoneyField(
        "ceiling per minute",
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Any agent, API key or model spending more than this in one minute alarms, whatever its baseline.",
    )
    max_tokens_per_request = models.PositiveIntegerField(
        "ceiling of tokens per request",
        default=200_000,
        validators=[MinValueValidator(1000)],
        help_text="Input plus output tokens of one call.",
    )
    repeat_threshold = models.PositiveIntegerField(
        "same prompt repeated",
        default=50,
        validators=[MinValueValidator(2)],
        help_text="The same prompt hash this many times within 10 minutes in one scope is a loop signal.",
    )
    request_rate_multiplier = models.DecimalField(
        "request-rate multiplier (k)",
        max_digits=8,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("1.5"))],
        help_text="An agent making more than k times its usual requests per 10 minutes at this hour.",
    )
    min_requests_10m = models.PositiveIntegerField(
        "request floor per 10 minutes",
        default=300,
        validators=[MinValueValidator(1)],
        help_text="Fewer requests than this in 10 minutes never alarm on the request rate.",
    )
    quiet_minutes = models.PositiveSmallIntegerField(
        "minutes below threshold to end",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="An incident ends once its spend stays under the threshold this long.",
    )
    auto_stop = models.BooleanField(
        "call the agent's kill-switch automatically",
        default=False,
        help_text="On a critical incident of an inventory agent with a kill-switch URL, Keel calls it at once.",
    )
    kill_switch_secret = EncryptedTextField(blank=True, help_text="Signs kill-switch calls (X-Keel-Signature).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "runaway settings"
        verbose_name_plural = "runaway settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="runaway_settings_singleton")]

    def __str__(self):
        return "Runaway detection settings"


class ScopeKind(models.TextChoices):
    AGENT = "agent", "Agent"
    API_KEY = "api_key", "API key"
    MODEL = "model", "Model"


class RunawayIncident(models.Model):
    """One runaway of one scope (agent, API key or model): from the first hot minute to M quiet minutes."""

    class Status(models.TextChoices):
        OPEN = "open", "Burning"
        STOPPED = "stopped", "Kill-switch called"
        ENDED = "ended", "Ended"
        RESOLVED = "resolved", "Resolved"

    ACTIVE = (Status.OPEN, Status.STOPPED)

    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    scope_key = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="USD")
    agent = models.ForeignKey(
        "inventory.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="runaway_incidents"
    )
    severity = models.CharField(max_length=10, default="critical")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField(help_text="The first minute above the threshold (when the loop began).")
    detected_at = models.DateTimeField(help_text="The scan that opened the incident.")
    last_seen_at = models.DateTimeField(help_text="The end of the last minute above the threshold.")
    last_scan_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=254, blank=True)
    resolution_note = models.TextField(blank=True)
    burned = MoneyField(default=0, help_text="Spend of the scope since started_at.")
    rate_per_minute = MoneyField(default=0, help_text="Spend per minute over the last 5 minutes.")
    peak_per_minute = MoneyField(default=0)
    projected_24h = MoneyField(default=0, help_text="rate_per_minute × 1,440.")
    baseline_10m = MoneyField(default=0, help_text="Median 10-minute spend at this hour over the last 7 days.")
    threshold_10m = MoneyField(default=0, help_text="max(k × baseline, floor).")
    threshold_per_minute = MoneyField(default=0, help_text="The per-minute pace that alarms (chart line).")
    baseline_requests_10m = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="Requests since started_at.")
    signals = models.JSONField(default=dict, blank=True, help_text="Each signal: value, threshold, first/last fired.")
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scans = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_kind", "scope_key", "currency"],
                condition=models.Q(status__in=["open", "stopped"]),
                name="runaway_one_active_incident_per_scope",
            )
        ]
        indexes = [models.Index(fields=["status", "-detected_at"], name="runaway_status_detected")]

    def __str__(self):
        return f"{self.get_scope_kind_display()} {self.scope_key} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def detection_delay_seconds(self) -> float:
        return max(0.0, (self.detected_at - self.started_at).total_seconds())

    @property
    def projected_24h_at_peak(self):
        return self.peak_per_minute * 1440

    @property
    def minutes_burning(self) -> float:
        return max(0.0, (self.last_seen_at - self.started_at).total_seconds() / 60)


class KillSwitchCall(models.Model):
    """One signed POST to an agent's kill-switch webhook and what came back."""

    class Outcome(models.TextChoices):
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (auto-stop)"
        MANUAL = "manual", "Called by a person"

    incident = models.ForeignKey(RunawayIncident, on_delete=models.CASCADE, related_name="kill_switch_calls")
    agent = models.ForeignKey("inventory.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    url = models.URLField(max_length=500)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.CharField(max_length=254, blank=True)
    called_at = models.DateTimeField()
    signed = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)

    class Meta:
        ordering = ["-called_at", "-id"]

    def __str__(self):
        return f"{self.url} {self.outcome}"
