"""Capability-matrix assessment templates, shared by every client (public schema).

Templates ship as versioned data files (apps/assessment_templates/data/*.yaml, format in
docs/assessment-format.md); the MSP copies one under a new key and adapts it. Every change is a new
TemplateVersion with its own Dimension and Question rows, so an assessment keeps the exact version it was made
with (apps.assessments refers to these rows by id: versions are never changed or deleted).
"""

from django.db import models


class Template(models.Model):
    class Origin(models.TextChoices):
        BUNDLED = "bundled", "Shipped with Keel"
        COPY = "copy", "Copied and adapted by the MSP"
        UPLOAD = "upload", "Uploaded by the MSP"

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.BUNDLED)
    copied_from = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    current = models.ForeignKey("TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TemplateVersion(models.Model):
    """One version of a template: its levels, default target profile and (in `document`) the whole file, so it
    can be downloaded, copied and compared."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="Where its content comes from")
    licence = models.CharField(max_length=300, blank=True)
    levels = models.JSONField(help_text="[{level, name, description}] for levels 1..5")
    target_profile = models.JSONField(default=dict, help_text="{name, description, levels: {dimension ref: level}}")
    document = models.JSONField(help_text="The version as a keel-maturity/1 document")
    sha256 = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, help_text="{added, removed, changed} against the version before")
    loaded_from = models.CharField(max_length=300, blank=True)
    loaded_by = models.CharField(max_length=254, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)
    question_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["template__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="one_row_per_template_version")]

    def __str__(self):
        return f"{self.name} v{self.version}"

    def level_name(self, level: int) -> str:
        return next((item["name"] for item in self.levels if item["level"] == level), str(level))


class Dimension(models.Model):
    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="dimensions")
    ref = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    weight = models.DecimalField(max_digits=8, decimal_places=3)
    position = models.PositiveSmallIntegerField()
    legacy = models.CharField(max_length=300, blank=True)
    modern = models.CharField(max_length=300, blank=True)
    descriptors = models.JSONField(help_text='{"1": text, …, "5": text}')
    recommendations = models.JSONField(default=dict, help_text='{"2": {title, detail, effort}, …}')

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "ref"], name="one_dimension_per_ref")]

    def __str__(self):
        return self.name

    def descriptor(self, level: int) -> str:
        return self.descriptors.get(str(level), "")

    def recommendation(self, level: int) -> dict | None:
        return self.recommendations.get(str(level))


class Question(models.Model):
    class Evidence(models.TextChoices):
        NONE = "none", "Not needed"
        RECOMMENDED = "recommended", "Recommended"
        REQUIRED = "required", "Required"

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="questions")
    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="questions")
    ref = models.SlugField(max_length=60)
    text = models.CharField(max_length=500)
    help = models.TextField(blank=True)
    weight = models.DecimalField(max_digits=8, decimal_places=3, default=1)
    position = models.PositiveSmallIntegerField()
    required = models.BooleanField(default=True)
    allow_na = models.BooleanField(default=False)
    evidence = models.CharField(max_length=12, choices=Evidence.choices, default=Evidence.NONE)
    hard_question = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1..10: one of the ten")
    signal = models.CharField(max_length=60, blank=True, help_text="Platform signal that can prefill it")
    choices = models.JSONField(help_text="[{key, label, level, red_flag}]")

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "ref"], name="one_question_per_ref")]

    def __str__(self):
        return self.text

    def choice(self, key: str) -> dict | None:
        return next((c for c in self.choices if c["key"] == key), None)

    def choice_for_level(self, level: int) -> dict | None:
        """The choice with the highest level not above `level` (the lowest choice when all are above)."""
        ordered = sorted(self.choices, key=lambda c: c["level"])
        below = [c for c in ordered if c["level"] <= level]
        return below[-1] if below else (ordered[0] if ordered else None)
