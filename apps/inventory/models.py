from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower


class Department(models.Model):
    """A unit of the client that owns AI assets and receives allocated cost (reports group by it)."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=40, help_text="Short code used in cost-allocation tags, e.g. claims-ops.")
    cost_center = models.CharField(max_length=60, blank=True, help_text="The client's own cost-center number.")
    owner_email = models.EmailField(blank=True, help_text="Who answers for this department's AI spend.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="department_name_unique_ci",
                violation_error_message="A department with this name already exists.",
            ),
            models.UniqueConstraint(
                fields=["code"],
                name="department_code_unique",
                violation_error_message="A department with this code already exists.",
            ),
        ]

    def __str__(self):
        return self.name


class AssetKind(models.TextChoices):
    MODEL = "model", "Model"
    AGENT = "agent", "Agent"
    PROMPT = "prompt", "Prompt"
    PIPELINE = "pipeline", "Knowledge pipeline"
    ENDPOINT = "endpoint", "Endpoint"
    INTEGRATION = "integration", "Integration"


class Lifecycle(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    PILOT = "pilot", "Pilot"
    PRODUCTION = "production", "Production"
    RETIRED = "retired", "Retired"


class RiskTier(models.TextChoices):
    """EU AI Act tiers (Art 5, 6, 50); "unassessed" until someone has classified the asset."""

    UNASSESSED = "unassessed", "Not yet classified"
    PROHIBITED = "prohibited", "Prohibited (Art 5)"
    HIGH = "high", "High risk"
    LIMITED = "limited", "Limited risk (transparency)"
    MINIMAL = "minimal", "Minimal risk"


class AnnexIIIArea(models.TextChoices):
    """EU AI Act Annex III high-risk areas (Art 6(2)); ids as in the regulation."""

    BIOMETRICS = "III.1", "III.1 Biometrics"
    CRITICAL_INFRASTRUCTURE = "III.2", "III.2 Critical infrastructure"
    EDUCATION = "III.3", "III.3 Education and vocational training"
    EMPLOYMENT = "III.4", "III.4 Employment and workers management"
    ESSENTIAL_SERVICES = "III.5", "III.5 Essential private and public services (credit scoring, insurance pricing)"
    LAW_ENFORCEMENT = "III.6", "III.6 Law enforcement"
    MIGRATION = "III.7", "III.7 Migration, asylum and border control"
    JUSTICE = "III.8", "III.8 Administration of justice and democratic processes"


class DataClassification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Asset(models.Model):
    """One AI asset of the client. Each kind keeps its own fields in a child table (multi-table inheritance)."""

    kind = models.CharField(max_length=12, choices=AssetKind.choices, editable=False)
    name = models.CharField(max_length=200)
    owner_email = models.EmailField(
        blank=True, help_text="The person who answers for this asset: a member of this client or MSP staff."
    )
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets")
    purpose = models.TextField("business purpose", blank=True, help_text="What the business uses it for.")
    lifecycle = models.CharField(max_length=12, choices=Lifecycle.choices, default=Lifecycle.PROPOSED)
    risk_tier = models.CharField(
        "EU AI Act risk tier", max_length=12, choices=RiskTier.choices, default=RiskTier.UNASSESSED
    )
    annex_iii_area = models.CharField(
        "Annex III area", max_length=6, choices=AnnexIIIArea.choices, blank=True, help_text="Required for high risk."
    )
    risk_rationale = models.TextField(blank=True, help_text="Why this tier (an Art 6(3) derogation must be argued).")
    data_classification = models.CharField(
        max_length=12, choices=DataClassification.choices, default=DataClassification.INTERNAL
    )
    personal_data = models.BooleanField("processes personal data", default=False)
    residency_region = models.CharField(
        "data-residency region", max_length=60, blank=True, help_text="Where its data must stay, e.g. ca-central-1."
    )
    cost_tags = models.JSONField(
        "cost-allocation tags", default=dict, blank=True, help_text="Tags that route cost to it, e.g. app=claims."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "kind",
                Lower("name"),
                name="asset_name_unique_per_kind_ci",
                violation_error_message="An asset of this kind with this name already exists.",
            ),
            models.CheckConstraint(
                condition=(models.Q(risk_tier="high") & ~models.Q(annex_iii_area=""))
                | (~models.Q(risk_tier="high") & models.Q(annex_iii_area="")),
                name="asset_annex_iii_only_when_high",
                violation_error_message="A high-risk asset needs its Annex III area; other tiers have none.",
            ),
        ]
        indexes = [models.Index(fields=["kind", "lifecycle"]), models.Index(fields=["owner_email"])]

    def __str__(self):
        return self.name

    @property
    def detail(self) -> Asset:
        """The kind-specific row (AIModel, Agent, …) of this asset."""
        if type(self) is not Asset:
            return self
        return getattr(self, KIND_ATTRIBUTE[self.kind])


class Hosting(models.TextChoices):
    PROVIDER_API = "provider_api", "Provider API"
    PRIVATE_CLOUD = "private_cloud", "Private cloud"
    ON_PREM = "on_prem", "On-premises"


class AIModel(Asset):
    """A model the client uses: a provider's API model or one it hosts. Catalog fields come from the price catalog."""

    provider = models.CharField(max_length=60, help_text="e.g. openai, anthropic, azure, bedrock, self-hosted.")
    model_id = models.CharField("model id", max_length=200, help_text="As the provider names it, e.g. gpt-4o.")
    model_version = models.CharField("version", max_length=60, blank=True)
    hosting = models.CharField(max_length=14, choices=Hosting.choices, default=Hosting.PROVIDER_API)
    open_weight = models.BooleanField("open-weight", default=False)
    licence = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=60, blank=True, help_text="Where it runs, e.g. ca-central-1.")
    context_window = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens. Leave empty to use the catalog's value."
    )
    deprecation_date = models.DateField(null=True, blank=True, help_text="Leave empty to use the catalog's date.")
    # Model card (CycloneDX modelCard): what it is for and how well it does it.
    task = models.CharField(max_length=60, blank=True, help_text="e.g. text-generation, classification.")
    intended_use = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    evaluation_results = models.JSONField(
        default=list, blank=True, help_text='List of {"metric": …, "value": …, "dataset": …} results.'
    )
    training_data_summary = models.TextField(blank=True)
    # Filled by the deprecation watch from the model price catalog.
    catalog_key = models.CharField(max_length=200, blank=True)
    catalog_context_window = models.PositiveIntegerField(null=True, blank=True)
    catalog_deprecation_date = models.DateField(null=True, blank=True)
    catalog_input_cost_per_token = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    catalog_output_cost_per_token = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    catalog_checked_at = models.DateTimeField(null=True, blank=True)

    @property
    def effective_deprecation_date(self):
        return self.deprecation_date or self.catalog_deprecation_date

    @property
    def effective_context_window(self):
        return self.context_window or self.catalog_context_window


class AutonomyLevel(models.TextChoices):
    SUGGEST = "suggest", "Suggests only; a person acts"
    APPROVE_EACH = "approve_each", "Acts after a person approves each action"
    SUPERVISED = "supervised", "Acts on its own; a person monitors and can stop it"
    AUTONOMOUS = "autonomous", "Fully autonomous"


class Power(models.TextChoices):
    """What a tool lets an agent do. The dangerous ones drive guardrail findings."""

    READ_DATA = "read_data", "Read data"
    WRITE_DATA = "write_data", "Write data"
    DELETE_DATA = "delete_data", "Delete data"
    MOVE_MONEY = "move_money", "Move money"
    CONTACT_EXTERNAL = "contact_external", "Contact people externally"
    EXECUTE_CODE = "execute_code", "Execute code"
    CHANGE_ACCESS = "change_access", "Change access"


class SpendPeriod(models.TextChoices):
    DAY = "day", "per day"
    MONTH = "month", "per month"


class Agent(Asset):
    autonomy_level = models.CharField(max_length=14, choices=AutonomyLevel.choices, default=AutonomyLevel.SUGGEST)
    spend_cap = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, help_text="Most it may spend on tokens and tools."
    )
    spend_cap_currency = models.CharField(max_length=3, default="USD")
    spend_cap_period = models.CharField(max_length=5, choices=SpendPeriod.choices, default=SpendPeriod.DAY)
    approval_required_for = ArrayField(
        models.CharField(max_length=20, choices=Power.choices),
        default=list,
        blank=True,
        help_text="Actions a person must approve before the agent performs them.",
    )
    kill_switch_url = models.URLField(
        "kill-switch webhook URL", blank=True, help_text="Keel calls it to stop the agent (e.g. runaway spend)."
    )

    @property
    def powers(self) -> set[str]:
        return {power for tool in self.tools.all() for power in tool.powers}


class AgentTool(models.Model):
    """A tool the agent may call, what it lets the agent do, and its limits."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    integration = models.ForeignKey(
        "Integration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tools",
        help_text="The system the tool acts on.",
    )
    powers = ArrayField(models.CharField(max_length=20, choices=Power.choices), default=list)
    max_amount_per_action = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, help_text="In the agent's spend-cap currency."
    )
    max_calls_per_hour = models.PositiveIntegerField(null=True, blank=True)
    limit_note = models.CharField("other limits", max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("agent", Lower("name"), name="agent_tool_name_unique_ci")]

    def __str__(self):
        return self.name


class Prompt(Asset):
    @property
    def current_version(self):
        return self.versions.order_by("-number").first()


class PromptVersion(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    template = models.TextField()
    template_sha256 = models.CharField(max_length=64, editable=False)
    author_email = models.EmailField()
    change_note = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [models.UniqueConstraint(fields=["prompt", "number"], name="prompt_version_number_unique")]

    def __str__(self):
        return f"{self.prompt.name} v{self.number}"


class KnowledgePipeline(Asset):
    sources = models.JSONField(default=list, blank=True, help_text='List of {"name": …, "location": …}.')
    vector_store = models.CharField(max_length=120, blank=True)
    embedding_model = models.CharField(max_length=120, blank=True)
    refresh_schedule = models.CharField(max_length=120, blank=True, help_text="e.g. nightly at 02:00, or a cron line.")
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    per_document_access_control = models.BooleanField(default=False)


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class Endpoint(Asset):
    environment = models.CharField(max_length=12, choices=Environment.choices, default=Environment.PRODUCTION)
    url = models.URLField("URL", max_length=500, blank=True)
    model = models.ForeignKey(
        AIModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="endpoints",
        help_text="The model it serves.",
    )
    region = models.CharField(max_length=60, blank=True)


class SystemKind(models.TextChoices):
    CRM = "crm", "CRM"
    ERP = "erp", "ERP"
    WAREHOUSE = "warehouse", "Data warehouse"
    TICKETING = "ticketing", "Ticketing"
    HRIS = "hris", "HR system"
    PAYMENTS = "payments", "Payments / core banking"
    EHR = "ehr", "Health records (EHR)"
    DOCUMENTS = "documents", "Document store"
    MESSAGING = "messaging", "Email / messaging"
    OTHER = "other", "Other"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Into the AI (read)"
    OUTBOUND = "outbound", "From the AI (write)"
    BIDIRECTIONAL = "bidirectional", "Both ways"


class HealthStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"


class Integration(Asset):
    system_kind = models.CharField(max_length=12, choices=SystemKind.choices, default=SystemKind.OTHER)
    system_name = models.CharField(max_length=120, blank=True, help_text="e.g. Salesforce, SAP S/4HANA, Snowflake.")
    direction = models.CharField(max_length=14, choices=Direction.choices, default=Direction.INBOUND)
    health_status = models.CharField(max_length=10, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)


KIND_MODEL = {
    AssetKind.MODEL: AIModel,
    AssetKind.AGENT: Agent,
    AssetKind.PROMPT: Prompt,
    AssetKind.PIPELINE: KnowledgePipeline,
    AssetKind.ENDPOINT: Endpoint,
    AssetKind.INTEGRATION: Integration,
}
KIND_ATTRIBUTE = {kind: model._meta.model_name for kind, model in KIND_MODEL.items()}


class RelationKind(models.TextChoices):
    """How one asset depends on another; each kind says what the target must be."""

    USES_MODEL = "uses_model", "uses model"
    USES_PROMPT = "uses_prompt", "uses prompt"
    VIA_ENDPOINT = "via_endpoint", "is served through endpoint"
    CALLS_INTEGRATION = "calls_integration", "calls integration"
    RETRIEVES_FROM = "retrieves_from", "retrieves from pipeline"
    FEEDS = "feeds", "feeds data to"
    DEPENDS_ON = "depends_on", "depends on"


RELATION_TARGET_KIND = {
    RelationKind.USES_MODEL: AssetKind.MODEL,
    RelationKind.USES_PROMPT: AssetKind.PROMPT,
    RelationKind.VIA_ENDPOINT: AssetKind.ENDPOINT,
    RelationKind.CALLS_INTEGRATION: AssetKind.INTEGRATION,
    RelationKind.RETRIEVES_FROM: AssetKind.PIPELINE,
}


class AssetRelation(models.Model):
    """ "Agent A uses model M", "agent A calls integration I": the edges of the dependency view and the AI-BOM."""

    source = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="relations_out")
    kind = models.CharField(max_length=20, choices=RelationKind.choices)
    target = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="relations_in")
    prompt_version = models.ForeignKey(
        PromptVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="used_by",
        help_text="For 'uses prompt': the version in use.",
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source__name", "kind", "target__name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "target"], name="relation_unique"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="relation_not_self"),
        ]

    def __str__(self):
        return f"{self.source} {self.get_kind_display()} {self.target}"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class GuardrailFinding(models.Model):
    """A rule an asset breaks right now (open) or broke before (resolved). Recomputed on change and daily."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    rule = models.CharField(max_length=60)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    explanation = models.TextField()
    fix = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "first_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "asset"], condition=models.Q(status="open"), name="finding_one_open_per_rule_asset"
            )
        ]
        indexes = [models.Index(fields=["status", "asset"])]

    def __str__(self):
        return f"{self.title} ({self.asset})"

    @property
    def dedup_key(self) -> str:
        return f"guardrail:{self.rule}:{self.asset_id}"
