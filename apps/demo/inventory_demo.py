from decimal import Decimal

from django_tenants.utils import schema_context

from apps.core.context import acting_as
from apps.inventory.models import Department
from apps.inventory.services import department_save

DEPARTMENTS = {
    "acme": [
        ("Underwriting", "underwriting", "CC-1100", "head.uw@acme.example"),
        ("Risk & Compliance", "risk", "CC-1300", "cro@acme.example"),
        ("IT Operations", "it-ops", "CC-1900", "cio@acme.example"),
    ],
    "maple": [
        ("Patient Intake", "intake", "MH-210", "intake.lead@maple.example"),
        ("Clinical Operations", "clinical-ops", "MH-300", "cmo@maple.example"),
    ],
    "harbor": [
        ("Claims Operations", "claims-ops", "CC-4100", "claims.lead@harbor.example"),
        ("Customer Service", "customer-service", "CC-4200", "cs.lead@harbor.example"),
        ("Data & Analytics", "data", "CC-4800", "cdo@harbor.example"),
    ],
}


def demo_departments(clients) -> None:
    for slug, client in clients.items():
        with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
            for name, code, cost_center, owner in DEPARTMENTS.get(slug, []):
                if not Department.objects.filter(code=code).exists():
                    department_save(name=name, code=code, cost_center=cost_center, owner_email=owner)


# The inventory each demo client runs. Relations: (source, relation kind, target[, prompt version]).
INVENTORY = {
    "acme": {
        "models": [
            dict(
                name="GPT-4o (underwriting)",
                provider="openai",
                model_id="gpt-4o-2024-08-06",
                hosting="provider_api",
                region="eu (data zone)",
                lifecycle="production",
                risk_tier="high",
                annex_iii_area="III.5",
                risk_rationale="Drafts credit decisions for natural persons (Annex III 5(b) creditworthiness).",
                data_classification="confidential",
                personal_data=True,
                residency_region="eu-west-1",
                department="underwriting",
                owner_email="engineer@northwind.example",
                purpose="Reads loan files and drafts the underwriting memo and decision.",
                task="text-generation",
                intended_use="Drafting underwriting memos for human or agent review; never the final decision alone.",
                limitations="Can misread scanned bank statements; no access to bureau data except through tools.",
                evaluation_results=[
                    {"metric": "memo factual accuracy", "value": "0.96", "dataset": "200 reviewed files, 2026-Q3"}
                ],
                cost_tags={"app": "underwriting", "model": "gpt-4o"},
            ),
            dict(
                name="Claude Sonnet 4.5 (document intake)",
                provider="anthropic",
                model_id="claude-sonnet-4-5",
                lifecycle="production",
                risk_tier="limited",
                data_classification="confidential",
                personal_data=True,
                residency_region="eu-west-1",
                department="underwriting",
                owner_email="engineer@northwind.example",
                purpose="Extracts fields from applicants' documents.",
                task="information-extraction",
            ),
            dict(
                name="Credit score model v3",
                provider="self-hosted",
                model_id="acme-credit-score",
                model_version="3.2.0",
                hosting="private_cloud",
                open_weight=False,
                licence="Proprietary (Acme)",
                region="eu-central-1",
                lifecycle="production",
                risk_tier="high",
                annex_iii_area="III.5",
                risk_rationale="Scores creditworthiness of natural persons.",
                data_classification="restricted",
                personal_data=True,
                residency_region="eu-central-1",
                department="risk",
                owner_email="am@northwind.example",
                purpose="Probability of default for credit lines under EUR 250k.",
                task="classification",
                intended_use="Input to underwriting; thresholds reviewed quarterly by Risk.",
                limitations="Trained on 2019-2025 SME data; weaker on companies under 12 months old.",
                evaluation_results=[
                    {"metric": "AUC", "value": "0.81", "dataset": "2025 out-of-time holdout"},
                    {"metric": "demographic parity gap", "value": "0.03", "dataset": "2025 holdout"},
                ],
                training_data_summary="1.2M anonymised SME loan outcomes (2019-2025), EU only.",
            ),
        ],
        "integrations": [
            dict(
                name="Temenos core banking",
                system_kind="payments",
                system_name="Temenos Transact",
                direction="bidirectional",
                health_status="healthy",
                lifecycle="production",
                data_classification="restricted",
                department="it-ops",
            ),
            dict(
                name="Salesforce FSC",
                system_kind="crm",
                system_name="Salesforce Financial Services Cloud",
                direction="bidirectional",
                health_status="healthy",
                lifecycle="production",
                data_classification="confidential",
                department="underwriting",
            ),
            dict(
                name="Credit bureau API",
                system_kind="other",
                system_name="Schufa B2B",
                direction="inbound",
                health_status="degraded",
                lifecycle="production",
                data_classification="restricted",
                department="risk",
            ),
        ],
        "pipelines": [
            dict(
                name="Loan file RAG",
                sources=[
                    {"name": "Underwriting policy manual", "location": "sharepoint://acme/uw-policy"},
                    {"name": "Past credit memos", "location": "s3://acme-uw-memos/"},
                ],
                vector_store="pgvector (Aurora)",
                embedding_model="text-embedding-3-large",
                refresh_schedule="nightly at 01:30",
                personal_data=True,
                residency_region="eu-west-1",
                lifecycle="production",
                data_classification="confidential",
                department="underwriting",
                per_document_access_control=True,
            ),
        ],
        "endpoints": [
            dict(
                name="Azure OpenAI westeurope (prod)",
                environment="production",
                url="https://acme-uw.openai.azure.com/",
                model="GPT-4o (underwriting)",
                region="westeurope",
                lifecycle="production",
                data_classification="confidential",
                department="it-ops",
            ),
        ],
        "prompts": [
            (
                "Underwriting decision prompt",
                "underwriting",
                [
                    (
                        "You are Acme's underwriting assistant. Using the loan file and policy excerpts, draft a memo "
                        "with a recommendation (approve / refer / decline) and the reasons.",
                        "First production version",
                    ),
                    (
                        "You are Acme's underwriting assistant. Using ONLY the loan file and the policy excerpts "
                        "below, draft a memo with a recommendation (approve / refer / decline), the reasons, and every "
                        "figure's source page. Refer anything above EUR 250,000.",
                        "Cite sources; refer large amounts (audit finding)",
                    ),
                ],
            ),
        ],
        "agents": [
            dict(
                name="underwriter-7",
                autonomy_level="autonomous",
                spend_cap="500.00",
                spend_cap_currency="EUR",
                spend_cap_period="day",
                approval_required_for=["move_money"],
                kill_switch_url="https://agents.acme.example/underwriter-7/kill",
                lifecycle="production",
                risk_tier="high",
                annex_iii_area="III.5",
                data_classification="confidential",
                personal_data=True,
                residency_region="eu-west-1",
                department="underwriting",
                owner_email="engineer@northwind.example",
                purpose="Underwrites small-business credit lines end to end; disbursal needs a person's approval.",
                cost_tags={"app": "underwriting", "agent": "underwriter-7"},
                tools=[
                    dict(
                        name="Bureau lookup",
                        powers=["read_data"],
                        integration="Credit bureau API",
                        max_calls_per_hour=600,
                    ),
                    dict(
                        name="Write decision to CRM", powers=["read_data", "write_data"], integration="Salesforce FSC"
                    ),
                    dict(
                        name="Disburse funds",
                        powers=["move_money"],
                        integration="Temenos core banking",
                        max_amount_per_action="250000.00",
                        limit_note="Only to the applicant's verified account",
                    ),
                ],
            ),
            dict(
                name="Collections outreach agent",
                autonomy_level="supervised",
                spend_cap=None,
                kill_switch_url="",
                lifecycle="pilot",
                risk_tier="limited",
                data_classification="confidential",
                personal_data=True,
                residency_region="eu-west-1",
                department="underwriting",
                owner_email="am@northwind.example",
                purpose="Emails customers in arrears and offers payment plans.",
                tools=[
                    dict(name="Send customer email", powers=["contact_external"], max_calls_per_hour=200),
                    dict(
                        name="Refund fee",
                        powers=["move_money"],
                        integration="Temenos core banking",
                        max_amount_per_action="150.00",
                    ),
                ],
            ),
        ],
        "relations": [
            ("underwriter-7", "uses_model", "GPT-4o (underwriting)"),
            ("underwriter-7", "via_endpoint", "Azure OpenAI westeurope (prod)"),
            ("underwriter-7", "uses_model", "Credit score model v3"),
            ("underwriter-7", "uses_prompt", "Underwriting decision prompt", 2),
            ("underwriter-7", "retrieves_from", "Loan file RAG"),
            ("underwriter-7", "calls_integration", "Temenos core banking"),
            ("underwriter-7", "calls_integration", "Salesforce FSC"),
            ("underwriter-7", "calls_integration", "Credit bureau API"),
            ("Collections outreach agent", "uses_model", "Claude Sonnet 4.5 (document intake)"),
            ("Collections outreach agent", "calls_integration", "Temenos core banking"),
        ],
    },
    "maple": {
        "models": [
            dict(
                name="Llama 3.1 70B (Canadian private cloud)",
                provider="self-hosted",
                model_id="meta-llama/Llama-3.1-70B-Instruct",
                model_version="3.1",
                hosting="private_cloud",
                open_weight=True,
                licence="Llama 3.1 Community License",
                region="ca-central-1",
                context_window=128000,
                lifecycle="production",
                risk_tier="limited",
                risk_rationale="Patient-facing assistant: transparency duties (Art 50); no diagnosis.",
                data_classification="restricted",
                personal_data=True,
                residency_region="ca-central-1",
                department="intake",
                owner_email="am@northwind.example",
                purpose="Powers the patient-intake assistant without patient data leaving Canada (PHIPA).",
                task="text-generation",
                intended_use="Conversational intake and scheduling; escalates clinical questions to staff.",
                limitations="Not a medical device; must not give diagnoses or dosage advice.",
            ),
            dict(
                name="Triage classifier",
                provider="self-hosted",
                model_id="maple-triage-xgb",
                model_version="2026.04",
                hosting="on_prem",
                licence="Proprietary (Maple Health)",
                region="Toronto data centre",
                lifecycle="production",
                risk_tier="high",
                annex_iii_area="III.5",
                risk_rationale="Prioritises patients' access to care (essential services).",
                data_classification="restricted",
                personal_data=True,
                residency_region="ca-central-1",
                department="clinical-ops",
                owner_email="am@northwind.example",
                purpose="Scores symptom severity to order the intake queue.",
                task="classification",
                evaluation_results=[{"metric": "recall (urgent)", "value": "0.93", "dataset": "2026-Q2 audit"}],
            ),
        ],
        "integrations": [
            dict(
                name="OSCAR EMR",
                system_kind="ehr",
                system_name="OSCAR Pro",
                direction="bidirectional",
                health_status="healthy",
                lifecycle="production",
                data_classification="restricted",
                personal_data=True,
                residency_region="ca-central-1",
                department="clinical-ops",
            ),
            dict(
                name="Twilio SMS",
                system_kind="messaging",
                system_name="Twilio",
                direction="outbound",
                health_status="healthy",
                lifecycle="production",
                department="intake",
            ),
        ],
        "pipelines": [
            dict(
                name="Clinic knowledge base",
                sources=[
                    {"name": "Clinic policies", "location": "sharepoint://maple/policies"},
                    {"name": "Service catalogue", "location": "https://maple.example/services"},
                ],
                vector_store="Qdrant (self-hosted, Toronto)",
                embedding_model="bge-large-en-v1.5",
                refresh_schedule="weekly, Sunday 03:00",
                personal_data=False,
                residency_region="ca-central-1",
                lifecycle="production",
                data_classification="internal",
                department="intake",
            ),
            dict(
                name="Intake transcripts index",
                sources=[
                    {"name": "Assistant transcripts", "location": "s3://maple-intake-transcripts/"},
                ],
                vector_store="Qdrant (self-hosted)",
                refresh_schedule="hourly",
                personal_data=True,
                residency_region="",
                lifecycle="pilot",
                data_classification="restricted",
                department="intake",
                purpose="Lets staff search past intake conversations.",
            ),
        ],
        "endpoints": [
            dict(
                name="vLLM Toronto (prod)",
                environment="production",
                url="https://llm.maple.internal/v1",
                model="Llama 3.1 70B (Canadian private cloud)",
                region="ca-central-1",
                lifecycle="production",
                data_classification="restricted",
                department="intake",
            ),
        ],
        "prompts": [
            (
                "Intake assistant system prompt",
                "intake",
                [
                    (
                        "You are Maple Health's intake assistant. Collect the reason for the visit, symptoms and "
                        "preferred times. Never give medical advice; if symptoms sound urgent, tell the patient to "
                        "call 911 or go to the nearest emergency department.",
                        "Initial version",
                    ),
                ],
            ),
        ],
        "agents": [
            dict(
                name="Patient intake assistant",
                autonomy_level="supervised",
                spend_cap="60.00",
                spend_cap_currency="CAD",
                spend_cap_period="day",
                kill_switch_url="https://llm.maple.internal/agents/intake/stop",
                lifecycle="production",
                risk_tier="limited",
                data_classification="restricted",
                personal_data=True,
                residency_region="ca-central-1",
                department="intake",
                owner_email="am@northwind.example",
                purpose="Takes new patients' intake details and books first appointments.",
                tools=[
                    dict(name="Look up patient", powers=["read_data"], integration="OSCAR EMR"),
                    dict(
                        name="Book appointment", powers=["write_data"], integration="OSCAR EMR", max_calls_per_hour=120
                    ),
                    dict(
                        name="Send SMS reminder",
                        powers=["contact_external"],
                        integration="Twilio SMS",
                        max_calls_per_hour=300,
                    ),
                ],
            ),
        ],
        "relations": [
            ("Patient intake assistant", "uses_model", "Llama 3.1 70B (Canadian private cloud)"),
            ("Patient intake assistant", "via_endpoint", "vLLM Toronto (prod)"),
            ("Patient intake assistant", "uses_prompt", "Intake assistant system prompt", 1),
            ("Patient intake assistant", "retrieves_from", "Clinic knowledge base"),
            ("Patient intake assistant", "uses_model", "Triage classifier"),
            ("Patient intake assistant", "calls_integration", "OSCAR EMR"),
            ("Patient intake assistant", "calls_integration", "Twilio SMS"),
        ],
    },
    "harbor": {
        "models": [
            dict(
                name="GPT-4o mini (claims extraction)",
                provider="openai",
                model_id="gpt-4o-mini-2024-07-18",
                lifecycle="production",
                risk_tier="limited",
                data_classification="confidential",
                personal_data=True,
                residency_region="us-east-1",
                department="claims-ops",
                owner_email="engineer@northwind.example",
                purpose="Extracts claim facts from FNOL emails and adjuster notes (~$0.42 of tokens per claim).",
                task="information-extraction",
                cost_tags={"app": "claims", "model": "gpt-4o-mini"},
            ),
            dict(
                name="Claude Haiku 4.5 (routing)",
                provider="anthropic",
                model_id="claude-haiku-4-5",
                lifecycle="production",
                risk_tier="minimal",
                data_classification="internal",
                residency_region="us-east-1",
                department="claims-ops",
                owner_email="engineer@northwind.example",
                purpose="Routes simple claims to the cheaper path (the implemented routing recommendation).",
                task="classification",
            ),
        ],
        "integrations": [
            dict(
                name="Guidewire ClaimCenter",
                system_kind="ticketing",
                system_name="Guidewire ClaimCenter",
                direction="bidirectional",
                health_status="degraded",
                lifecycle="production",
                data_classification="confidential",
                personal_data=True,
                department="claims-ops",
            ),
            dict(
                name="Snowflake claims warehouse",
                system_kind="warehouse",
                system_name="Snowflake",
                direction="outbound",
                health_status="healthy",
                lifecycle="production",
                department="data",
            ),
            dict(
                name="Payments hub",
                system_kind="payments",
                system_name="Stripe Treasury",
                direction="outbound",
                health_status="healthy",
                lifecycle="production",
                data_classification="restricted",
                department="claims-ops",
            ),
        ],
        "pipelines": [
            dict(
                name="Claims documents RAG",
                sources=[
                    {"name": "Policy wordings", "location": "s3://harbor-policies/wordings/"},
                    {"name": "Claim attachments", "location": "guidewire://claimcenter/documents"},
                ],
                vector_store="OpenSearch Serverless",
                embedding_model="text-embedding-3-small",
                refresh_schedule="every 15 minutes",
                personal_data=True,
                residency_region="us-east-1",
                lifecycle="production",
                data_classification="confidential",
                department="claims-ops",
                per_document_access_control=True,
            ),
        ],
        "endpoints": [
            dict(
                name="OpenAI API (claims, prod)",
                environment="production",
                url="https://api.openai.com/v1",
                model="GPT-4o mini (claims extraction)",
                region="us",
                lifecycle="production",
                data_classification="confidential",
                department="claims-ops",
            ),
        ],
        "prompts": [
            (
                "Claim summarisation prompt",
                "claims-ops",
                [
                    ("Summarise the claim: who, what, when, where, estimated loss.", "First version"),
                    (
                        "Summarise the claim as JSON with claimant, incident_date, location, peril, estimated_loss "
                        "and missing_documents.",
                        "Structured output for ClaimCenter",
                    ),
                    (
                        "Summarise the claim as JSON with claimant, incident_date, location, peril, estimated_loss, "
                        "missing_documents and fraud_signals (list, may be empty). Do not guess amounts.",
                        "Fraud signals; stop invented amounts",
                    ),
                ],
            ),
        ],
        "agents": [
            dict(
                name="Claims processing agent",
                autonomy_level="supervised",
                spend_cap=None,
                approval_required_for=["move_money"],
                kill_switch_url="https://claims-ai.harbor.example/agents/processing/kill",
                lifecycle="production",
                risk_tier="limited",
                data_classification="confidential",
                personal_data=True,
                residency_region="us-east-1",
                department="claims-ops",
                owner_email="engineer@northwind.example",
                purpose="Triages new claims, drafts the adjuster summary and proposes payouts under $5,000.",
                cost_tags={"app": "claims", "agent": "claims-processing"},
                tools=[
                    dict(name="Update claim", powers=["read_data", "write_data"], integration="Guidewire ClaimCenter"),
                    dict(
                        name="Propose payout",
                        powers=["move_money"],
                        integration="Payments hub",
                        max_amount_per_action="5000.00",
                    ),
                    dict(
                        name="Close duplicate claim",
                        powers=["delete_data"],
                        integration="Guidewire ClaimCenter",
                        limit_note="Only claims flagged duplicate by two checks",
                    ),
                ],
            ),
        ],
        "relations": [
            ("Claims processing agent", "uses_model", "GPT-4o mini (claims extraction)"),
            ("Claims processing agent", "via_endpoint", "OpenAI API (claims, prod)"),
            ("Claims processing agent", "uses_model", "Claude Haiku 4.5 (routing)"),
            ("Claims processing agent", "uses_prompt", "Claim summarisation prompt", 3),
            ("Claims processing agent", "retrieves_from", "Claims documents RAG"),
            ("Claims processing agent", "calls_integration", "Guidewire ClaimCenter"),
            ("Claims processing agent", "calls_integration", "Payments hub"),
            ("Claims documents RAG", "feeds", "Snowflake claims warehouse"),
        ],
    },
}


DEMO_OWNERS = {"acme": "engineer@northwind.example", "maple": "am@northwind.example"}


def _register(kind: str, fields: dict, *, departments: dict, by_name: dict):
    """Save one demo asset (and an agent's tools), resolving names to the objects already registered."""
    from apps.inventory.services import agent_tool_save, asset_save

    fields = dict(fields)
    if "department" in fields:
        fields["department"] = departments.get(fields["department"])
    if kind == "endpoint" and fields.get("model"):
        fields["model"] = by_name[fields["model"]]
    if fields.get("spend_cap"):
        fields["spend_cap"] = Decimal(fields["spend_cap"])
    tools = fields.pop("tools", [])
    asset = asset_save(kind=kind, **fields)
    by_name[asset.name] = asset
    for tool in tools:
        tool = dict(tool)
        if tool.get("integration"):
            tool["integration"] = by_name[tool["integration"]]
        if tool.get("max_amount_per_action"):
            tool["max_amount_per_action"] = Decimal(tool["max_amount_per_action"])
        agent_tool_save(agent=asset, **tool)
    return asset


def demo_inventory(clients) -> None:
    """Register each client's AI assets through the services (audited, guardrails computed) once."""
    from apps.inventory.models import Asset
    from apps.inventory.services import prompt_version_add, relation_save

    for slug, client in clients.items():
        spec = INVENTORY.get(slug)
        if spec is None:
            continue
        with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
            if Asset.objects.exists():
                continue
            context = {"departments": {d.code: d for d in Department.objects.all()}, "by_name": {}}
            by_name = context["by_name"]
            owner = DEMO_OWNERS.get(slug, "engineer@northwind.example")
            for kind, key in (("model", "models"), ("integration", "integrations"), ("pipeline", "pipelines")):
                for fields in spec[key]:
                    # Systems and pipelines take the tier of what they serve; the demo calls them minimal.
                    _register(kind, {"risk_tier": "minimal", "owner_email": owner, **fields}, **context)
            for fields in spec["endpoints"]:
                _register("endpoint", {"risk_tier": "minimal", "owner_email": owner, **fields}, **context)
            versions = {}
            for name, department, texts in spec["prompts"]:
                prompt_fields = {
                    "name": name,
                    "department": department,
                    "lifecycle": "production",
                    "owner_email": owner,
                }
                prompt = _register("prompt", prompt_fields, **context)
                for template, note in texts:
                    version = prompt_version_add(
                        prompt=prompt, template=template, change_note=note, author_email="engineer@northwind.example"
                    )
                    versions[(name, version.number)] = version
            for fields in spec["agents"]:
                _register("agent", fields, **context)
            for source, kind, target, *version in spec["relations"]:
                relation_save(
                    source=by_name[source],
                    kind=kind,
                    target=by_name[target],
                    prompt_version=versions.get((target, version[0])) if version else None,
                )
