"""Unit economics of one client: the business units it measures (an insurance claim processed, a loan
application underwritten) and how many of each happened per UTC day.

Cost per unit is never stored: apps.unit_economics.selectors divides the daily cost rollup (CostDaily) of the
unit's scope by these counts whenever it is asked, so a restated bill or a re-sent count shows at once.
"""

from __future__ import annotations

from django.db import models


class ScopeKind(models.TextChoices):
    CLIENT = "client", "The whole client"
    DEPARTMENT = "department", "A department"
    ASSET = "asset", "An AI asset (agent, model, pipeline…)"
    MODEL = "model", "A model, as the bills name it"


# Codes that would collide with the portal's own paths under /finops/unit-economics/.
RESERVED_CODES = frozenset({"new", "upload", "counts", "csv", "api"})


class BusinessUnit(models.Model):
    """Something the client's business does many times, whose cost Keel divides out."""

    name = models.CharField(max_length=120, help_text="What happened, e.g. “Insurance claim processed”.")
    code = models.SlugField(
        max_length=40, help_text="Short code the API and CSV files use for this unit, e.g. claims. Fixed once set."
    )
    unit_label = models.CharField(max_length=60, help_text="One of them, in the singular: claim, loan application.")
    unit_label_plural = models.CharField(
        max_length=60, blank=True, help_text="The plural, when it is not the singular + “s”."
    )
    description = models.TextField(blank=True)
    scope_kind = models.CharField(
        "measured against", max_length=12, choices=ScopeKind.choices, default=ScopeKind.CLIENT
    )
    # SET_NULL, not CASCADE: deleting a department must not delete the client's business counts. A unit whose
    # department or asset went shows no cost (never the whole client's) until someone picks a new scope.
    department = models.ForeignKey(
        "inventory.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model = models.CharField(max_length=200, blank=True, help_text="The model id exactly as the ledger has it.")
    ai_only = models.BooleanField(
        "AI spend only",
        default=False,
        help_text="Count only the AI and Machine Learning service category of the scope.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="business_unit_code_unique",
                violation_error_message="A business unit with this code already exists.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def plural(self) -> str:
        return self.unit_label_plural or f"{self.unit_label}s"


class UnitCount(models.Model):
    """How many units happened on one UTC day, in total or for one department and/or asset.

    One row per (unit, day, department, asset): sending the same key again replaces the count, so a retried
    batch leaves the same totals. Rows without department and asset are the unit's daily totals."""

    class Source(models.TextChoices):
        API = "api", "API"
        CSV = "csv", "CSV upload"
        DEMO = "demo", "Demo data"

    unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="counts")
    day = models.DateField(help_text="UTC day.")
    # A department's or asset's own counts go with it; the unit's totals (rows without either) stay.
    department = models.ForeignKey(
        "inventory.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveBigIntegerField()
    reference = models.CharField(max_length=200, blank=True, help_text="The caller's id of the item, if it sent one.")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True, help_text="Email or API key prefix of the sender.")

    class Meta:
        ordering = ["-day", "unit_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "day", "department", "asset"],
                name="unit_count_key_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self):
        return f"{self.unit_id} {self.day} {self.count}"
