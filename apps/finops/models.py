"""The FinOps ledger of one client: where costs come from (billing sources), every ingestion run, the
FOCUS-normalised cost records, and the live usage events pushed by the client's agents and gateways."""

from __future__ import annotations

from django.db import models

from apps.core.fields import EncryptedTextField


class SourceKind(models.TextChoices):
    AWS_COST_EXPLORER = "aws_cost_explorer", "AWS Cost Explorer"
    AWS_DATA_EXPORT = "aws_data_export", "AWS Data Export in S3 (CUR 2.0 or FOCUS)"
    AZURE_COST_QUERY = "azure_cost_query", "Azure Cost Management query"
    AZURE_EXPORT = "azure_export", "Azure cost export in storage (FocusCost or ActualCost)"
    GCP_BIGQUERY = "gcp_bigquery", "Google Cloud billing export in BigQuery"
    OPENAI = "openai", "OpenAI organisation usage and costs"
    ANTHROPIC = "anthropic", "Anthropic usage and cost reports"
    FOCUS_UPLOAD = "focus_upload", "FOCUS file upload"
    USAGE_EVENTS = "usage_events", "Live usage events (API)"


class BillingSource(models.Model):
    """One place Keel pulls (or receives) a client's costs from. Credentials are encrypted and never shown."""

    class Status(models.TextChoices):
        NEW = "new", "Not run yet"
        OK = "ok", "Healthy"
        RETRYING = "retrying", "Throttled or unavailable, retrying"
        FAILING = "failing", "Failing"
        CREDENTIALS = "credentials", "Credentials rejected"
        PAUSED = "paused", "Paused"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=30, choices=SourceKind.choices)
    settings = models.JSONField(default=dict, blank=True, help_text="Non-secret settings: account, bucket, scope…")
    credentials = EncryptedTextField(blank=True, help_text="JSON of the secret fields, encrypted at rest.")
    credentials_hint = models.CharField(max_length=80, blank=True, help_text="e.g. the last 4 characters of a key.")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=360)
    lookback_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days re-read on every run, for restated or late data."
    )
    backfill_days = models.PositiveSmallIntegerField(default=90, help_text="Days read by the first run.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    status_message = models.TextField(blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="billing_source_name_unique")]

    def __str__(self):
        return self.name

    @property
    def is_pull(self) -> bool:
        """Pulled on a schedule (everything but uploads; live usage events are booked on a schedule too)."""
        return self.kind != SourceKind.FOCUS_UPLOAD


class IngestionRun(models.Model):
    """One pull or upload: what was asked for, what came back, and in plain words why it failed."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (already running)"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Run now"
        UPLOAD = "upload", "File upload"
        DEMO = "demo", "Demo data"

    class ErrorKind(models.TextChoices):
        NONE = "", "—"
        CREDENTIALS = "credentials", "Credentials rejected"
        THROTTLED = "throttled", "Throttled by the provider"
        PROVIDER = "provider", "Provider error"
        DATA = "data", "Bad data"
        INTERNAL = "internal", "Internal error"

    source = models.ForeignKey(BillingSource, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True, help_text="Exclusive.")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_loaded = models.PositiveIntegerField(default=0)
    rows_replaced = models.PositiveIntegerField(default=0)
    totals = models.JSONField(default=dict, blank=True, help_text="EffectiveCost and BilledCost per currency.")
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Retries so far.")
    error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=12, choices=ErrorKind.choices, blank=True, default="")
    details = models.JSONField(default=dict, blank=True, help_text="Pages, file name, columns, warnings…")
    started_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self):
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _quantity():
    # Usage quantities are not money: a month of storage in byte-seconds passes 10^18, so 26 integer digits.
    return models.DecimalField(max_digits=38, decimal_places=12, null=True, blank=True)


def _amount():
    # Providers report up to 10+ decimals (per-token prices); NUMERIC keeps every digit they sent.
    return models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)


class CostRecord(models.Model):
    """One FOCUS cost-and-usage row (FOCUS 1.2 columns that matter to Keel, 1.3 provider names, x_ extensions).

    Column names are FOCUS's in snake_case; apps.finops.focus maps them both ways. Every time is UTC.
    Rows are only ever written by apps.finops.ledger, which replaces a source's window atomically.
    """

    class CostSource(models.TextChoices):
        ACTUAL = "actual", "Actual (provider's bill)"
        ESTIMATE = "estimate", "Estimate (priced from the catalog or not final)"

    # Both keys are covered by the composite indexes below, so neither gets an index of its own. The run is
    # bookkeeping, not a constraint: rows are only written by the ledger with the run it has just created,
    # and a database check per inserted row would be a million look-ups of that one run (see ledger.py).
    source = models.ForeignKey(BillingSource, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(
        IngestionRun, on_delete=models.DO_NOTHING, null=True, related_name="+", db_index=False, db_constraint=False
    )

    billing_account_id = models.CharField(max_length=200, blank=True)
    billing_account_name = models.CharField(max_length=300, blank=True)
    billing_account_type = models.CharField(max_length=100, blank=True)
    sub_account_id = models.CharField(max_length=200, blank=True)
    sub_account_name = models.CharField(max_length=300, blank=True)
    sub_account_type = models.CharField(max_length=100, blank=True)
    billing_currency = models.CharField(max_length=3)
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField()
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    charge_category = models.CharField(max_length=20)
    charge_class = models.CharField(max_length=20, blank=True)
    charge_frequency = models.CharField(max_length=20, blank=True)
    charge_description = models.TextField(blank=True)

    billed_cost = _amount()
    effective_cost = _amount()
    list_cost = _amount()
    contracted_cost = _amount()
    list_unit_price = _amount()
    contracted_unit_price = _amount()
    pricing_quantity = _quantity()
    pricing_unit = models.CharField(max_length=100, blank=True)
    pricing_category = models.CharField(max_length=20, blank=True)
    pricing_currency = models.CharField(max_length=20, blank=True)
    pricing_currency_effective_cost = _amount()
    consumed_quantity = _quantity()
    consumed_unit = models.CharField(max_length=100, blank=True)

    provider_name = models.CharField(max_length=120, help_text="ServiceProviderName (1.3) or ProviderName.")
    publisher_name = models.CharField(max_length=120, blank=True)
    host_provider_name = models.CharField(max_length=120, blank=True)
    invoice_issuer_name = models.CharField(max_length=120, blank=True)
    invoice_id = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200)
    service_category = models.CharField(max_length=60)
    service_subcategory = models.CharField(max_length=100, blank=True)
    region_id = models.CharField(max_length=60, blank=True)
    region_name = models.CharField(max_length=120, blank=True)
    availability_zone = models.CharField(max_length=60, blank=True)
    resource_id = models.TextField(blank=True)
    resource_name = models.TextField(blank=True)
    resource_type = models.CharField(max_length=200, blank=True)
    sku_id = models.CharField(max_length=200, blank=True)
    sku_price_id = models.CharField(max_length=300, blank=True)
    sku_meter = models.CharField(max_length=200, blank=True)
    commitment_discount_id = models.TextField(blank=True)
    commitment_discount_category = models.CharField(max_length=20, blank=True)
    commitment_discount_status = models.CharField(max_length=20, blank=True)
    tags = models.JSONField(default=dict, blank=True)

    x_model = models.CharField(max_length=200, blank=True)
    x_token_type = models.CharField(max_length=60, blank=True)
    x_input_tokens = models.BigIntegerField(null=True, blank=True)
    x_output_tokens = models.BigIntegerField(null=True, blank=True)
    x_cached_tokens = models.BigIntegerField(null=True, blank=True)
    x_requests = models.BigIntegerField(null=True, blank=True)
    x_cost_source = models.CharField(max_length=10, choices=CostSource.choices, default=CostSource.ACTUAL)
    x_extra = models.JSONField(default=dict, blank=True, help_text="Other x_ columns of the source file.")

    # Allocation (apps.finops.allocation): written after booking and when the rules change. A row split by a
    # shared-cost rule keeps its rule and no department/asset; the rollup spreads it over the rule's shares.
    # No database constraint or index: the ledger is loaded by COPY and these are only read through rollups.
    department = models.ForeignKey(
        "inventory.Department",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    asset = models.ForeignKey(
        "inventory.Asset", null=True, on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False
    )
    allocation_rule = models.ForeignKey(
        "AllocationRule", null=True, on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False
    )
    allocated_by = models.CharField(
        max_length=12, blank=True, db_default="", help_text="rule, asset_tags or usage_tags; empty when unallocated."
    )

    class Meta:
        indexes = [
            models.Index(fields=["source", "charge_period_start"], name="cost_source_charge"),
            models.Index(fields=["source", "billing_period_start"], name="cost_source_billing"),
            models.Index(fields=["charge_period_start"], name="cost_charge"),
            models.Index(fields=["run"], name="cost_run"),
        ]

    def __str__(self):
        return f"{self.service_name} {self.charge_period_start:%Y-%m-%d} {self.effective_cost} {self.billing_currency}"


class UsageEvent(models.Model):
    """One model call reported by the client's agent or gateway (the fast path for token burn).

    Idempotent by request_id. cost is the caller's figure (actual) or the catalog's price (estimate).
    Events are rolled into the ledger as estimate rows per day and replaced by the provider's bill
    once its daily cost has been ingested (see apps.finops.usage).
    """

    request_id = models.CharField(max_length=200, unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=200)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    agent = models.CharField(max_length=200, blank=True)
    api_key_id = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=120, blank=True)
    prompt_hash = models.CharField(max_length=128, blank=True)
    cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    cost_source = models.CharField(max_length=10, choices=CostRecord.CostSource.choices, default="estimate")
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["agent", "occurred_at"], name="usage_agent_time"),
            models.Index(fields=["provider", "occurred_at"], name="usage_provider_time"),
            models.Index(fields=["received_at"], name="usage_received"),
        ]

    def __str__(self):
        return f"{self.model} {self.occurred_at:%Y-%m-%d %H:%M} {self.request_id}"


class UsageReconciliation(models.Model):
    """Per day and provider: what usage events estimated and what the provider's bill said."""

    day = models.DateField()
    provider = models.CharField(max_length=60)
    currency = models.CharField(max_length=3, default="USD")
    estimated_cost = models.DecimalField(max_digits=30, decimal_places=12)
    actual_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    events = models.PositiveIntegerField(default=0)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "provider"]
        constraints = [models.UniqueConstraint(fields=["day", "provider", "currency"], name="usage_recon_unique")]

    def __str__(self):
        return f"{self.day} {self.provider}"


# --- allocation ---------------------------------------------------------------------------------------------


class AllocationRule(models.Model):
    """One ordered rule: ledger rows matching it go to a department and/or asset, or are split as shared cost.

    The first enabled rule (lowest position) that matches a row wins. Patterns are globs: * matches anything.
    """

    class Match(models.TextChoices):
        TAG = "tag", "Tag"
        BILLING_ACCOUNT = "billing_account", "Billing account"
        SUB_ACCOUNT = "sub_account", "Sub-account (subscription / project)"
        RESOURCE = "resource", "Resource id or name"
        SERVICE = "service", "Service"
        PROVIDER = "provider", "Provider"
        API_KEY = "api_key", "API key (usage events)"
        AGENT = "agent", "Agent (usage events)"
        USAGE_DEPARTMENT = "usage_department", "Department field (usage events)"
        MODEL = "model", "Model"

    class Split(models.TextChoices):
        NONE = "none", "Not shared: one department and/or asset"
        EVEN = "even", "Shared evenly"
        PROPORTIONAL = "proportional", "Shared in proportion to each target's direct cost that month"
        FIXED = "fixed", "Shared by fixed percentages"

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0, db_index=True)
    enabled = models.BooleanField(default=True)
    match_field = models.CharField(max_length=20, choices=Match.choices)
    match_key = models.CharField(max_length=200, blank=True, help_text="The tag key, for tag rules.")
    match_value = models.CharField(max_length=500, help_text="Value or glob pattern, e.g. claims-* or *.")
    split = models.CharField(max_length=12, choices=Split.choices, default=Split.NONE)
    department = models.ForeignKey(
        "inventory.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["name"], name="allocation_rule_name_unique")]

    def __str__(self):
        return self.name


class AllocationTarget(models.Model):
    """One receiver of a shared-cost rule; percent is used by fixed splits only (they sum to 100)."""

    rule = models.ForeignKey(AllocationRule, on_delete=models.CASCADE, related_name="targets")
    department = models.ForeignKey("inventory.Department", null=True, blank=True, on_delete=models.CASCADE)
    asset = models.ForeignKey("inventory.Asset", null=True, blank=True, on_delete=models.CASCADE)
    percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["id"]


class AllocationShare(models.Model):
    """The weights a shared-cost rule spreads by in one month (computed; proportional weights change monthly)."""

    rule = models.ForeignKey(AllocationRule, on_delete=models.CASCADE, related_name="shares")
    month = models.DateField()
    ordinal = models.PositiveSmallIntegerField()
    department = models.ForeignKey("inventory.Department", null=True, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey("inventory.Asset", null=True, on_delete=models.CASCADE, related_name="+")
    weight = models.DecimalField(max_digits=30, decimal_places=12)

    class Meta:
        ordering = ["rule", "month", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["rule", "month", "ordinal"], name="allocation_share_unique")]


class AllocationStatus(models.Model):
    """One row per client: when a recompute of the ledger's allocation was last asked for and last finished
    (a change made while one runs is picked up by a second pass of the same task)."""

    requested_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    @property
    def pending(self) -> bool:
        return self.requested_at is not None and (self.finished_at is None or self.finished_at < self.requested_at)


# --- rollups ------------------------------------------------------------------------------------------------


class CostDaily(models.Model):
    """The daily rollup every dashboard reads: one row per UTC day × source × provider × service × category ×
    charge category × account × sub-account × region × model × department × asset × rule × currency.

    Maintained by apps.finops.rollups after each booking (per source and day range) and after allocation
    recomputes; shared-cost rows appear once per share, so sums by department are already split.
    """

    day = models.DateField()
    source = models.ForeignKey(BillingSource, on_delete=models.CASCADE, related_name="+", db_index=False)
    provider_name = models.CharField(max_length=120)
    service_name = models.CharField(max_length=200)
    service_category = models.CharField(max_length=60)
    charge_category = models.CharField(max_length=20)
    billing_account_id = models.CharField(max_length=200)
    sub_account_id = models.CharField(max_length=200)
    region_id = models.CharField(max_length=60)
    x_model = models.CharField(max_length=200)
    billing_currency = models.CharField(max_length=3)
    department = models.ForeignKey(
        "inventory.Department", null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    asset = models.ForeignKey(
        "inventory.Asset", null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    allocation_rule = models.ForeignKey(
        AllocationRule, null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    effective_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    billed_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    list_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    contracted_cost = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="cost_daily_day"),
            models.Index(fields=["source", "day"], name="cost_daily_source_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.service_name} {self.effective_cost} {self.billing_currency}"
