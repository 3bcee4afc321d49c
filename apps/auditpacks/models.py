"""Audit packs: a signed ZIP of one client's compliance register for a period, built in the background."""

from __future__ import annotations

from django.db import models


class AuditPack(models.Model):
    """One requested pack. The ZIP lives in Django's default storage under audit-packs/<schema>/; what the
    manifest says (files, integrity failures, audit-trail segment, frameworks) is summarised in `summary`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    PENDING = (Status.QUEUED, Status.BUILDING)

    requested_by = models.CharField(max_length=254, blank=True, help_text="Email, API key prefix or Keel.")
    requested_at = models.DateTimeField()
    period_from = models.DateField(help_text="First day (client's calendar) of the audit trail and incidents.")
    period_to = models.DateField(help_text="Last day, included.")
    frameworks = models.ManyToManyField("compliance.ClientFramework", blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True, help_text="manifest.json's generated_at.")
    file = models.FileField(max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the ZIP file.")
    key_fingerprint = models.CharField(max_length=64, blank=True, help_text="Of the key that signed it.")
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"Audit pack #{self.pk} ({self.period_from}–{self.period_to})"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def download_name(self) -> str:
        return f"keel-audit-pack-{self.pk}-{self.period_from:%Y%m%d}-{self.period_to:%Y%m%d}.zip"

    @property
    def chip(self) -> str:
        return {
            self.Status.READY: "chip-ok",
            self.Status.FAILED: "sev-critical",
            self.Status.BUILDING: "sev-medium",
        }.get(self.status, "chip-muted")
