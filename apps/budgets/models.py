from django.contrib.postgres.fields import ArrayField
from django.db import models

DEFAULT_THRESHOLDS = (50, 80, 100)


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


class Budget(models.Model):
    """A monthly budget for the whole client or one department, asset, provider or service, in the client's
    reporting currency. Spend is CostDaily.effective_cost of the scope in that currency (credits included)."""

    class Scope(models.TextChoices):
        CLIENT = "client", "Whole client"
        DEPARTMENT = "department", "Department"
        ASSET = "asset", "AI asset"
        PROVIDER = "provider", "Provider"
        SERVICE = "service", "Service"

    class AlertOn(models.TextChoices):
        ACTUAL = "actual", "Actual spend"
        FORECAST = "forecast", "Forecast"
        BOTH = "both", "Actual spend and forecast"

    name = models.CharField(max_length=120)
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.CLIENT)
    department = models.ForeignKey(
        "inventory.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    asset = models.ForeignKey(
        "inventory.Asset", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    provider_name = models.CharField(max_length=120, blank=True, help_text="ProviderName as in the ledger.")
    service_name = models.CharField(max_length=200, blank=True, help_text="ServiceName as in the ledger.")
    amount = models.DecimalField(max_digits=18, decimal_places=2, help_text="Monthly amount.")
    currency = models.CharField(
        max_length=3, help_text="The client's reporting currency, or a currency it is billed in (no conversion)."
    )
    thresholds = ArrayField(models.PositiveSmallIntegerField(), default=default_thresholds, size=10)
    alert_on = models.CharField(max_length=10, choices=AlertOn.choices, default=AlertOn.BOTH)
    owner_email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="client", department__isnull=True, asset__isnull=True)
                    | models.Q(scope="department", department__isnull=False, asset__isnull=True)
                    | models.Q(scope="asset", asset__isnull=False, department__isnull=True)
                    | models.Q(scope="provider", department__isnull=True, asset__isnull=True)
                    | models.Q(scope="service", department__isnull=True, asset__isnull=True)
                ),
                name="budget_scope_target",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def alerts_actual(self) -> bool:
        return self.alert_on in (self.AlertOn.ACTUAL, self.AlertOn.BOTH)

    @property
    def alerts_forecast(self) -> bool:
        return self.alert_on in (self.AlertOn.FORECAST, self.AlertOn.BOTH)

    @property
    def scope_label(self) -> str:
        """e.g. "Department: Claims", "Provider: OpenAI", "Whole client"."""
        if self.scope == self.Scope.CLIENT:
            return "Whole client"
        target = {
            self.Scope.DEPARTMENT: self.department.name if self.department_id else "",
            self.Scope.ASSET: self.asset.name if self.asset_id else "",
            self.Scope.PROVIDER: self.provider_name,
            self.Scope.SERVICE: self.service_name,
        }[self.scope]
        return f"{self.get_scope_display()}: {target}"


class BudgetOverride(models.Model):
    """A different amount for one month (a launch, a seasonal peak)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="overrides")
    month = models.DateField(help_text="First day of the month.")
    amount = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        ordering = ["month"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "month"], name="budget_override_one_per_month"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="budget_override_amount_positive"),
        ]

    def __str__(self):
        return f"{self.budget} {self.month:%Y-%m}: {self.amount}"


class ThresholdCrossing(models.Model):
    """The firing state: a threshold of a budget was crossed in a month on one basis. The unique constraint is
    what makes an alert fire once per (budget, month, threshold, basis), whatever restarts or repeats."""

    class Basis(models.TextChoices):
        ACTUAL = "actual", "Actual"
        FORECAST = "forecast", "Forecast"

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="crossings")
    month = models.DateField()
    threshold = models.PositiveSmallIntegerField()
    basis = models.CharField(max_length=10, choices=Basis.choices)
    fired_at = models.DateTimeField()
    crossed_on = models.DateField(null=True, blank=True, help_text="The UTC day the actual spend crossed it.")
    budget_amount = models.DecimalField(max_digits=18, decimal_places=2)
    actual = models.DecimalField(max_digits=30, decimal_places=12)
    forecast = models.DecimalField(max_digits=30, decimal_places=2, null=True, blank=True)
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    raised_alert = models.BooleanField(
        default=True, help_text="False when a higher threshold crossed at the same time carried the alert."
    )

    class Meta:
        ordering = ["-month", "threshold", "basis"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "month", "threshold", "basis"], name="budget_crossing_once_per_month"
            )
        ]

    def __str__(self):
        return f"{self.budget} {self.month:%Y-%m} {self.threshold} % ({self.basis})"
