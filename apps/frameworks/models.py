"""The compliance framework library, shared by every client (public schema).

Frameworks ship as versioned data files (apps/frameworks/data/*.yaml, format in docs/framework-format.md). Each
load of a higher version adds a FrameworkVersion with its own Requirement rows; older versions stay, so what a
client did against them still reads. Client data (apps.compliance) refers to requirements by their stable URN,
never by row id, which is what lets a new version keep a client's mappings.
"""

from django.db import models


class Framework(models.Model):
    """One framework (EU AI Act, ISO/IEC 42001, NIS2, …), whatever its version."""

    class Audience(models.TextChoices):
        CLIENT = "client", "A client's obligations"
        MSP = "msp", "The MSP's own obligations"

    ref = models.SlugField(max_length=60, unique=True, help_text="e.g. eu-ai-act, iso-42001, nist-ai-rmf")
    urn = models.CharField(max_length=200, unique=True, help_text="urn:keel:fw:<ref>")
    name = models.CharField(max_length=300)
    short_name = models.CharField(max_length=60)
    provider = models.CharField(max_length=200, blank=True)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.CLIENT)
    current = models.ForeignKey("FrameworkVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["short_name"]

    def __str__(self):
        return self.short_name


class FrameworkVersion(models.Model):
    """One loaded version of a framework file; `changes` says what it changed against the version before."""

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=300)
    publication = models.CharField(max_length=300, blank=True, help_text="e.g. Regulation (EU) 2024/1689")
    source_url = models.URLField(max_length=500, blank=True)
    licence = models.CharField(max_length=300)
    roles = models.JSONField(default=list, help_text="Roles a client can hold under it (provider, deployer, …)")
    risk_tiers = models.JSONField(default=list)
    metadata = models.JSONField(default=dict, help_text="Application dates and other facts of the file")
    source = models.CharField(max_length=300, help_text="The file it was loaded from")
    sha256 = models.CharField(max_length=64)
    requirement_count = models.PositiveIntegerField(default=0)
    changes = models.JSONField(default=dict, help_text="{added: [urn], removed: [urn], changed: [{urn, fields}]}")
    loaded_at = models.DateTimeField(auto_now_add=True)
    loaded_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["framework__short_name", "-version"]
        constraints = [models.UniqueConstraint(fields=["framework", "version"], name="one_row_per_framework_version")]

    def __str__(self):
        return f"{self.framework.short_name} v{self.version}"


class Requirement(models.Model):
    """A node of a framework version's tree: a chapter or group (assessable=False) or an obligation/control."""

    version = models.ForeignKey(FrameworkVersion, on_delete=models.CASCADE, related_name="requirements")
    urn = models.CharField(max_length=250, help_text="Stable across versions: urn:keel:fw:<ref>:<node>")
    ref_id = models.CharField(max_length=60, help_text="As the text numbers it: Art 9, A.6.2.4, GOVERN 1.6, 4.7")
    title = models.CharField(max_length=400)
    description = models.TextField(blank=True, help_text="Our own paraphrase")
    parent_urn = models.CharField(max_length=250, blank=True)
    depth = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveIntegerField(help_text="Order within the file")
    assessable = models.BooleanField(default=True)
    roles = models.JSONField(default=list, help_text="Empty: every role")
    risk_tiers = models.JSONField(default=list, help_text="Empty: every tier")
    asset_types = models.JSONField(default=list, help_text="Empty: not tied to an asset type")
    evidence_types = models.JSONField(default=list)
    typical_evidence = models.TextField(blank=True)
    review_frequency = models.CharField(max_length=20, blank=True, help_text="ISO 8601 duration, e.g. P1Y")
    applies_from = models.DateField(null=True, blank=True)
    deadline_rules = models.JSONField(default=list, help_text="Incident-clock regimes it triggers")
    mappings = models.JSONField(default=list, help_text="[{target: urn, relation: equal|subset|superset|intersect}]")

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "urn"], name="one_node_per_urn_per_version")]
        indexes = [models.Index(fields=["urn"])]

    def __str__(self):
        return f"{self.ref_id} {self.title}"

    @property
    def node_id(self) -> str:
        """The URN's last part (art-12, a-6-2-8): an HTML anchor on the framework's page."""
        return self.urn.rsplit(":", 1)[-1]
