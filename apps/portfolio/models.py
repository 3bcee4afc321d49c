from django.core.validators import MaxValueValidator
from django.db import models


class ClientRollup(models.Model):
    """One row per client with what the console grid shows; refreshed by the client's own tasks
    (apps.portfolio.services.client_rollup_refresh), never read across schemas at request time.

    The health-score components are stored as measured values, not as scores: the score is worked out when the
    console is read (apps.portfolio.health), so a change of weights shows at once. Empty = not measured."""

    class ReportStatus(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEWED = "reviewed", "Reviewed"
        ISSUED = "issued", "Issued"

    client = models.OneToOneField("tenancy.Client", on_delete=models.CASCADE, related_name="rollup")
    open_alerts = models.PositiveIntegerField(default=0)
    open_critical = models.PositiveIntegerField(default=0)
    open_high = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    components_refreshed_at = models.DateTimeField(
        null=True, blank=True, help_text="When budget, SLA, readiness and ingestion were last recomputed."
    )
    # Budget: the whole-client budget of the month (see docs/portfolio.md), in one currency.
    budget_month = models.DateField(null=True, blank=True, help_text="First day of the UTC month measured.")
    budget_currency = models.CharField(max_length=3, blank=True)
    budget_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    budget_actual = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    budget_forecast = models.DecimalField(max_digits=30, decimal_places=2, null=True, blank=True)
    # SLA: the active SLO furthest below its objective in its current window (measured in error budgets).
    sla_attainment = models.DecimalField(max_digits=9, decimal_places=8, null=True, blank=True)
    sla_objective = models.DecimalField(max_digits=9, decimal_places=8, null=True, blank=True)
    sla_worst_slo = models.CharField(max_length=200, blank=True)
    sla_slos_measured = models.PositiveIntegerField(default=0)
    sla_slos_met = models.PositiveIntegerField(default=0)
    # Compliance: mean readiness (0-100) of the enabled frameworks that have something to assess.
    readiness = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    readiness_frameworks = models.PositiveIntegerField(default=0)
    # Billing ingestion: enabled sources and the latest successful run of any of them.
    billing_sources = models.PositiveIntegerField(default=0)
    ingestion_succeeded_at = models.DateTimeField(null=True, blank=True)
    # The latest monthly report (apps.reports calls services.report_status_refresh).
    report_month = models.DateField(null=True, blank=True)
    report_status = models.CharField(max_length=10, choices=ReportStatus.choices, blank=True)
    report_version = models.PositiveIntegerField(null=True, blank=True)
    report_issued_at = models.DateTimeField(null=True, blank=True)
    report_updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Rollup for {self.client}"


class HealthWeights(models.Model):
    """The MSP's health-score weights, 0-100 each (0 leaves the component out). One row (pk 1); the defaults
    of apps.portfolio.health.DEFAULT_WEIGHTS apply until an MSP admin saves the settings page."""

    SINGLETON_PK = 1

    budget = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(100)])
    alerts = models.PositiveSmallIntegerField(default=25, validators=[MaxValueValidator(100)])
    sla = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(100)])
    readiness = models.PositiveSmallIntegerField(default=15, validators=[MaxValueValidator(100)])
    maturity = models.PositiveSmallIntegerField(default=10, validators=[MaxValueValidator(100)])
    freshness = models.PositiveSmallIntegerField(default=10, validators=[MaxValueValidator(100)])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        verbose_name_plural = "health weights"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="health_weights_single_row"),
            models.CheckConstraint(
                condition=models.Q(budget__lte=100, alerts__lte=100, sla__lte=100)
                & models.Q(readiness__lte=100, maturity__lte=100, freshness__lte=100),
                name="health_weights_0_100",
            ),
        ]

    def __str__(self):
        return "Health-score weights"

    def as_dict(self) -> dict[str, int]:
        from .health import COMPONENTS

        return {key: getattr(self, key) for key in COMPONENTS}


class ClientHealthDay(models.Model):
    """Each client's health score per UTC day (the day's last refresh wins), for the trend. Written by the
    client's rollup refresh with the weights of that day; saving new weights rewrites today's rows."""

    client = models.ForeignKey("tenancy.Client", on_delete=models.CASCADE, related_name="health_days")
    day = models.DateField()
    score = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    scores = models.JSONField(default=dict, help_text="{component: sub-score or null} as decimal strings")
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client", "-day"]
        constraints = [models.UniqueConstraint(fields=["client", "day"], name="health_day_one_per_client")]
        indexes = [models.Index(fields=["day"], name="health_day_day")]

    def __str__(self):
        return f"{self.client} {self.day} health {self.score}"


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
