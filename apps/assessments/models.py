"""Capability-matrix assessments of one client (tenant schema).

An assessment is made against one TemplateVersion (apps.assessment_templates, public schema) and keeps it: the
library never changes or deletes a version, so foreign keys into it carry no database constraint (as in
apps.compliance). Scores are computed by services.assessment_score from the answers and stored on the
assessment (`results`) so lists, comparisons and the portfolio read them without recomputing; a final
assessment's answers, scores and target are frozen.
"""

from __future__ import annotations

from django.db import models


class TargetProfile(models.Model):
    """The maturity the client aims for per dimension of a template (by dimension ref, so it carries across
    versions), starting from the template's own default profile."""

    template = models.ForeignKey(
        "assessment_templates.Template", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    name = models.CharField(max_length=200)
    levels = models.JSONField(default=dict, help_text="{dimension ref: target level 1..5}")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template"], name="assessments_one_target_per_template")]

    def __str__(self):
        return self.name


class Assessment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        FINAL = "final", "Final"

    template_version = models.ForeignKey(
        "assessment_templates.TemplateVersion", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    title = models.CharField(max_length=200)
    assessed_on = models.DateField(help_text="The day the assessment describes.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    assessors = models.JSONField(default=list, help_text="E-mail addresses of the people who assessed.")
    reviewer_email = models.EmailField(blank=True)
    summary = models.TextField(blank=True, help_text="The account manager's conclusion, shown on the report.")
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The assessment it is compared with by default (the client's last final one before it).",
    )
    target_levels = models.JSONField(default=dict, help_text="Targets used for the gaps; frozen when final")
    overall_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    results = models.JSONField(default=dict, help_text="Scores per dimension, hard questions, coverage")
    computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.CharField(max_length=254, blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-assessed_on", "-pk"]
        indexes = [models.Index(fields=["status", "-assessed_on"])]

    def __str__(self):
        return f"{self.title} ({self.assessed_on:%d %b %Y})"

    @property
    def is_final(self) -> bool:
        return self.status == self.Status.FINAL


class Answer(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Assessor"
        SIGNAL = "signal", "Prefilled by Keel"
        OVERRIDDEN = "overridden", "Assessor, overriding Keel"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(
        "assessment_templates.Question", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    choice_key = models.CharField(max_length=60, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The chosen choice's level")
    is_na = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    signal_key = models.CharField(max_length=60, blank=True)
    signal_level = models.PositiveSmallIntegerField(null=True, blank=True)
    signal_choice_key = models.CharField(max_length=60, blank=True)
    signal_summary = models.TextField(blank=True)
    signal_source = models.CharField(max_length=120, blank=True)
    signal_url = models.CharField(max_length=300, blank=True)
    signal_observed = models.JSONField(default=dict, blank=True)
    signal_read_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    evidence = models.ManyToManyField("compliance.Evidence", blank=True, related_name="assessment_answers")
    links = models.JSONField(default=list, blank=True, help_text="[{url, title}] supporting links")
    answered_by = models.CharField(max_length=254, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assessment", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "question"], name="assessments_one_answer_per_question"),
            models.CheckConstraint(
                condition=~models.Q(source="overridden") | ~models.Q(override_reason=""),
                name="assessments_override_needs_reason",
            ),
        ]

    def __str__(self):
        return f"{self.assessment_id}/{self.question_id}: {self.choice_key or ('n/a' if self.is_na else '—')}"

    @property
    def answered(self) -> bool:
        return self.is_na or bool(self.choice_key)


class RoadmapItem(models.Model):
    """Work that closes a maturity gap: generated from an assessment's gaps (text from the template), then
    edited and tracked by the account manager. It belongs to the client, not to one assessment."""

    class Priority(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Effort(models.TextChoices):
        SMALL = "small", "Small"
        MEDIUM = "medium", "Medium"
        LARGE = "large", "Large"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        DROPPED = "dropped", "Dropped"

    OPEN_STATUSES = (Status.PROPOSED, Status.PLANNED, Status.IN_PROGRESS)

    assessment = models.ForeignKey(
        Assessment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="roadmap_items",
        help_text="The assessment whose gap it came from.",
    )
    template = models.ForeignKey(
        "assessment_templates.Template", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    dimension_ref = models.SlugField(max_length=60)
    dimension_name = models.CharField(max_length=120)
    from_level = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    target_level = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.MEDIUM)
    priority_score = models.DecimalField(max_digits=8, decimal_places=2, default=0, help_text="weight × gap")
    effort = models.CharField(max_length=6, choices=Effort.choices, default=Effort.MEDIUM)
    owner_email = models.EmailField(blank=True)
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    status_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-priority_score", "due_on", "pk"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
