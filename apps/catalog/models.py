from django.db import models


class CatalogRelease(models.Model):
    """One loaded catalog file. Exactly one is current; loading the same file again changes nothing."""

    source = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64, unique=True)
    entry_count = models.PositiveIntegerField()
    skipped_fields = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField(auto_now_add=True)
    loaded_by = models.CharField(max_length=254, blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-loaded_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=models.Q(is_current=True), name="one_current")
        ]

    def __str__(self):
        return f"{self.source} ({self.entry_count} models)"


def _price():
    return models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)


class ModelPrice(models.Model):
    """A catalog entry under the catalog's own key (gpt-4o, azure/gpt-4o, bedrock/…). Prices in USD per token."""

    key = models.CharField(max_length=300, unique=True)
    litellm_provider = models.CharField(max_length=100, blank=True, db_index=True)
    mode = models.CharField(max_length=40, blank=True)
    input_cost_per_token = _price()
    output_cost_per_token = _price()
    cache_read_input_token_cost = _price()
    cache_creation_input_token_cost = _price()
    max_input_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    deprecation_date = models.DateField(null=True, blank=True)
    source = models.URLField(max_length=500, blank=True)
    raw = models.JSONField(default=dict)
    release = models.ForeignKey(CatalogRelease, on_delete=models.PROTECT, related_name="entries")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key
