"""The per-client compliance register: frameworks the client enabled, its controls, their evidence, readiness.

Library rows (apps.frameworks: Framework, FrameworkVersion, Requirement) live in the public schema and are shared
by every client. Client rows refer to requirements by their URN, never by row id: a URN is stable across
versions, so adopting a new version keeps every mapping and assessment. Foreign keys into the library carry no
database constraint and DO_NOTHING on delete: the library never deletes versions, and a constraint across schemas
would tie every client schema to the public tables' lifecycle.

Requirement status is never stored: it is computed (selectors.readiness) from mappings, controls and evidence
validity, so it can never go stale. What is stored per requirement is only the client's own decision
(RequirementAssessment: a manual "not applicable" with its justification, an owner).
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower


class ClientFramework(models.Model):
    """A framework this client works towards, at the version it adopted, with its roles and assets in scope."""

    framework = models.ForeignKey(
        "frameworks.Framework", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    version = models.ForeignKey(
        "frameworks.FrameworkVersion", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    roles = models.JSONField(default=list, blank=True, help_text="The client's roles under it, e.g. [deployer].")
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="compliance_frameworks")
    owner_email = models.EmailField(blank=True)
    enabled_at = models.DateTimeField()
    enabled_by = models.CharField(max_length=254, blank=True)
    adopted_at = models.DateTimeField(help_text="When the current version was adopted.")

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["framework"], name="compliance_framework_once")]

    def __str__(self):
        return f"{self.framework.short_name} v{self.version.version}"


class RequirementAssessment(models.Model):
    """The client's own decision about one requirement: not applicable (justified) and who owns it."""

    client_framework = models.ForeignKey(ClientFramework, on_delete=models.CASCADE, related_name="assessments")
    urn = models.CharField(max_length=250)
    not_applicable = models.BooleanField(default=False)
    justification = models.TextField(blank=True)
    owner_email = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["urn"]
        constraints = [
            models.UniqueConstraint(fields=["client_framework", "urn"], name="compliance_assessment_once"),
            models.CheckConstraint(
                condition=models.Q(not_applicable=False) | ~models.Q(justification=""),
                name="compliance_na_needs_justification",
            ),
        ]

    def __str__(self):
        return self.urn


class Control(models.Model):
    """A measure the client or the MSP runs (a policy, a process, a technical setting)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    class Frequency(models.TextChoices):
        MONTHLY = "P1M", "Monthly"
        QUARTERLY = "P3M", "Quarterly"
        HALF_YEARLY = "P6M", "Every 6 months"
        YEARLY = "P1Y", "Yearly"

    code = models.CharField(max_length=40, help_text="Short reference, e.g. AI-LOG-01.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner_email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    review_frequency = models.CharField(max_length=4, choices=Frequency.choices, default=Frequency.YEARLY)
    last_reviewed_on = models.DateField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"), name="compliance_control_code_ci", violation_error_message="This code is taken."
            )
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class ControlMapping(models.Model):
    """One control satisfies (fully or partly) one requirement, addressed by URN."""

    class Coverage(models.TextChoices):
        FULL = "full", "Full"
        PARTIAL = "partial", "Partial"

    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings")
    framework = models.ForeignKey(
        "frameworks.Framework", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    urn = models.CharField(max_length=250)
    coverage = models.CharField(max_length=8, choices=Coverage.choices, default=Coverage.FULL)
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["urn"]
        constraints = [models.UniqueConstraint(fields=["control", "urn"], name="compliance_mapping_once")]
        indexes = [models.Index(fields=["urn"])]

    def __str__(self):
        return f"{self.control.code} → {self.urn}"


class Evidence(models.Model):
    """Proof that a control operates: an uploaded file, a link, or a file Keel generates. Every change of the
    proof itself is a new EvidenceRevision; revisions are never overwritten or deleted."""

    class Kind(models.TextChoices):
        UPLOAD = "upload", "Uploaded file"
        LINK = "link", "Link"
        GENERATED = "generated", "Generated by Keel"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        EXPIRED = "expired", "Expired"
        REJECTED = "rejected", "Rejected"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    generator = models.CharField(max_length=40, blank=True, help_text="For generated evidence: which generator.")
    controls = models.ManyToManyField(Control, blank=True, related_name="evidence")
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="compliance_evidence")
    owner_email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    expires_on = models.DateField(null=True, blank=True, help_text="Last day it proves anything; review before.")
    approved_by = models.CharField(max_length=254, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_revision = models.PositiveIntegerField(null=True, blank=True)
    self_approved = models.BooleanField(default=False, help_text="The approver uploaded that revision.")
    rejection_reason = models.TextField(blank=True)
    rejected_by = models.CharField(max_length=254, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    current_revision = models.ForeignKey(
        "EvidenceRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_generated_at = models.DateTimeField(null=True, blank=True, help_text="Generated: last run that checked it.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(
                fields=["generator"], condition=~models.Q(generator=""), name="compliance_one_evidence_per_generator"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="generated") | models.Q(generator=""),
                name="compliance_generator_only_generated",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_on"])]

    def __str__(self):
        return self.title


class EvidenceRevision(models.Model):
    """One version of a piece of evidence: the stored file (with its SHA-256) or the link, and what date it
    proves (effective_date), which is not the day it was uploaded."""

    class Integrity(models.TextChoices):
        OK = "ok", "Verified"
        FAILED = "failed", "Integrity failed"
        NOT_APPLICABLE = "n/a", "Not a file"

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    file_name = models.CharField(max_length=500, blank=True, help_text="The storage name.")
    display_name = models.CharField(max_length=200, blank=True, help_text="The sanitised original name.")
    file_type = models.CharField(max_length=10, blank=True, help_text="pdf, png, docx… as sniffed from the content.")
    content_type = models.CharField(max_length=120, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    effective_date = models.DateField(help_text="The date the evidence proves.")
    note = models.TextField(blank=True)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.CharField(max_length=254, blank=True)
    generated = models.BooleanField(default=False)
    integrity = models.CharField(max_length=6, choices=Integrity.choices, default=Integrity.OK)
    integrity_checked_at = models.DateTimeField(null=True, blank=True)
    integrity_message = models.TextField(blank=True)

    class Meta:
        ordering = ["evidence", "-number"]
        constraints = [models.UniqueConstraint(fields=["evidence", "number"], name="compliance_revision_number_once")]

    def __str__(self):
        return f"{self.evidence} r{self.number}"

    @property
    def is_file(self) -> bool:
        return bool(self.file_name)


class EvidenceNotice(models.Model):
    """Firing state of the expiry alerts: one row per (evidence, notice, expiry date) under a unique constraint,
    written with the alert, so the 30-day and 7-day warnings and the expiry fire once each per expiry date."""

    class Kind(models.TextChoices):
        EXPIRING_30 = "expiring_30", "Expires within 30 days"
        EXPIRING_7 = "expiring_7", "Expires within 7 days"
        EXPIRED = "expired", "Expired"

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    expires_on = models.DateField()
    fired_at = models.DateTimeField()
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(fields=["evidence", "kind", "expires_on"], name="compliance_notice_once")
        ]

    def __str__(self):
        return f"{self.evidence} {self.kind} {self.expires_on}"


class ReadinessSnapshot(models.Model):
    """The readiness of one enabled framework on one day (the trend); today's row is refreshed after changes."""

    client_framework = models.ForeignKey(ClientFramework, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    version_number = models.PositiveIntegerField()
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    counts = models.JSONField(default=dict)
    gaps = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["client_framework", "day"]
        constraints = [models.UniqueConstraint(fields=["client_framework", "day"], name="compliance_snapshot_daily")]

    def __str__(self):
        return f"{self.client_framework} {self.day}: {self.score}"
