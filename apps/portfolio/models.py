from django.db import models


class ClientRollup(models.Model):
    """One row per client with what the console grid shows; refreshed by the client's own tasks."""

    client = models.OneToOneField("tenancy.Client", on_delete=models.CASCADE, related_name="rollup")
    open_alerts = models.PositiveIntegerField(default=0)
    open_critical = models.PositiveIntegerField(default=0)
    open_high = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Rollup for {self.client}"


class AlertFeedItem(models.Model):
    """A copy of each client's active alerts, so the console's feed never queries client schemas."""

    client = models.ForeignKey("tenancy.Client", on_delete=models.CASCADE, related_name="alert_feed")
    alert_id = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    severity_rank = models.PositiveSmallIntegerField()
    subject = models.CharField(max_length=300)
    state = models.CharField(max_length=14)
    owner_email = models.CharField(max_length=254, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["severity_rank", "-last_seen_at"]
        constraints = [models.UniqueConstraint(fields=["client", "alert_id"], name="feed_one_row_per_alert")]
        indexes = [models.Index(fields=["severity_rank", "-last_seen_at"])]

    @property
    def url(self) -> str:
        return f"/c/{self.client.slug}/alerts/{self.alert_id}/"


class ClientSpendMonth(models.Model):
    """One client's spend per calendar month (UTC) and currency, for the console; copied from the client's
    daily cost rollup by apps.finops.rollups whenever it changes, so the console never reads client schemas."""

    client = models.ForeignKey("tenancy.Client", on_delete=models.CASCADE, related_name="spend_months")
    month = models.DateField()
    currency = models.CharField(max_length=3)
    effective_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    ai_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    unallocated_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["client", "month", "currency"], name="spend_month_unique"),
        ]

    def __str__(self):
        return f"{self.client} {self.month:%Y-%m} {self.effective_cost} {self.currency}"


class ClientMaturity(models.Model):
    """Each client's latest final capability assessment, for the MSP's portfolio maturity view; written by
    apps.assessments when an assessment is finalised or the roadmap changes, so that view never reads client
    schemas."""

    client = models.OneToOneField("tenancy.Client", on_delete=models.CASCADE, related_name="maturity")
    template_key = models.SlugField(max_length=60)
    template_name = models.CharField(max_length=200)
    assessment_id = models.BigIntegerField()
    assessed_on = models.DateField()
    score = models.DecimalField(max_digits=5, decimal_places=2)
    previous_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    previous_assessed_on = models.DateField(null=True, blank=True)
    dimensions = models.JSONField(default=list, help_text="[{ref, name, level, target}] in template order")
    red_flags = models.PositiveSmallIntegerField(default=0)
    hard_questions_satisfied = models.PositiveSmallIntegerField(default=0)
    hard_questions_total = models.PositiveSmallIntegerField(default=0)
    roadmap_open = models.PositiveIntegerField(default=0)
    roadmap_overdue = models.PositiveIntegerField(default=0)
    roadmap_done = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.client} maturity {self.score}"

    @property
    def delta(self):
        return None if self.previous_score is None else self.score - self.previous_score
