"""Demo compliance register, through the services (audited like real work):

- Acme: the EU AI Act as a deployer, its high-risk credit-scoring systems in scope (GPT-4o underwriting, the
  credit score model, underwriter-7), and DORA as a financial entity; partial evidence (some approved, one in
  draft, controls without any), and the fundamental rights impact assessment expiring within 30 days.
- Maple: PIPEDA, with the Canadian data-residency attestation as evidence.
- Harbor: ISO/IEC 42001 and NIST AI RMF with one set of controls mapped across both (the crosswalk); the
  logging control is mapped on the ISO side only, so the page suggests the NIST equivalent.
- Northwind (the MSP's own workspace, when the demo has one): NIS2 with a few controls and evidence.

Keel's generated evidence (AI-BOM, cost monitoring, budgets, staff MFA, audit chain, SLA attainment) is produced
for each client and linked to controls (the SLA report is produced again once the service-level demo has run).
Requirements are picked by ref_id in the current library version; a ref the library does not have is skipped, so
the demo follows the data files. Idempotent: a framework, control, mapping or evidence that exists is left alone.
The readiness trend gets a month of synthetic history (derived rows only, never audited) so the chart has a shape
on first start.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.base import ContentFile
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.context import acting_as

logger = logging.getLogger(__name__)

UPLOADER = "engineer@northwind.example"
APPROVER = "am@northwind.example"

# Control: (code, name, description, status, frequency, owner, [(framework ref, ref_id, coverage)])
CONTROLS = {
    "acme": [
        (
            "AI-LIT-01",
            "AI literacy programme",
            "Yearly AI literacy training for underwriters, risk and IT staff.",
            "active",
            "P1Y",
            "cro@acme.example",
            [("eu-ai-act", "Art 4", "full")],
        ),
        (
            "AI-PROH-01",
            "Prohibited-practice screening",
            "Every new AI use case is screened against Art 5 before approval; none of Acme's systems manipulates, "
            "scores people socially or recognises emotions.",
            "active",
            "P1Y",
            "cro@acme.example",
            [("eu-ai-act", f"Art 5(1)({letter})", "full") for letter in "abcdefgh"],
        ),
        (
            "AI-USE-01",
            "Use per the provider's instructions",
            "Each high-risk system runs within its documented "
            "intended use; changes go through the model risk committee.",
            "active",
            "P6M",
            "head.uw@acme.example",
            [("eu-ai-act", "Art 26(1)", "full"), ("eu-ai-act", "Art 26(4)", "partial")],
        ),
        (
            "AI-OVS-01",
            "Human review of credit decisions",
            "An underwriter reviews every decline and every amount "
            "above EUR 250,000 before it is communicated; underwriter-7 cannot disburse without approval.",
            "active",
            "P3M",
            "head.uw@acme.example",
            [
                ("eu-ai-act", "Art 14", "full"),
                ("eu-ai-act", "Art 26(2)", "full"),
                ("eu-ai-act", "Art 26(5)", "partial"),
            ],
        ),
        (
            "AI-LOG-01",
            "Central AI logging, six-month retention",
            "Prompts, outputs and tool calls of the high-risk systems are kept for 6 months in the EU log store.",
            "active",
            "P6M",
            "cio@acme.example",
            [("eu-ai-act", "Art 26(6)", "full"), ("dora", "Art 10", "partial")],
        ),
        (
            "AI-FRIA-01",
            "Fundamental rights impact assessment",
            "FRIA of the credit-scoring use, updated on every material change.",
            "active",
            "P1Y",
            "cro@acme.example",
            [
                ("eu-ai-act", "Art 27(1)", "full"),
                ("eu-ai-act", "Art 27(2)", "full"),
                ("eu-ai-act", "Art 86", "partial"),
            ],
        ),
        (
            "AI-INC-01",
            "AI and ICT incident process",
            "One process for serious AI incidents (AI Act Art 73) and major "
            "ICT incidents (DORA Art 17-19), with the reporting clocks.",
            "active",
            "P1Y",
            "cio@acme.example",
            [
                ("eu-ai-act", "Art 73(1)", "full"),
                ("eu-ai-act", "Art 73(2)", "full"),
                ("dora", "Art 17", "full"),
                ("dora", "Art 19(1)", "full"),
                ("dora", "Art 19(4)", "partial"),
            ],
        ),
        (
            "AI-INV-01",
            "AI inventory kept current",
            "Every AI asset is registered in Keel; the AI-BOM is regenerated daily.",
            "active",
            "P3M",
            "cio@acme.example",
            [("dora", "Art 8", "full")],
        ),
        (
            "ICT-RISK-01",
            "ICT risk management framework",
            "Board-approved ICT risk framework, reviewed yearly.",
            "active",
            "P1Y",
            "cro@acme.example",
            [("dora", "Art 5", "full"), ("dora", "Art 6", "full")],
        ),
        (
            "ICT-MON-01",
            "Cost and runaway-spend monitoring",
            "Billing ingestion, daily anomaly detection and per-minute runaway detection on every AI workload.",
            "active",
            "P3M",
            "cio@acme.example",
            [("dora", "Art 10", "full"), ("dora", "Art 9", "partial")],
        ),
        (
            "ICT-MFA-01",
            "MFA for administrative access",
            "MSP staff and Acme administrators use MFA everywhere.",
            "active",
            "P6M",
            "cio@acme.example",
            [("dora", "Art 9", "partial")],
        ),
        (
            "ICT-TPR-01",
            "Register of ICT third-party providers",
            "The DORA register of information, incl. OpenAI, Anthropic, Azure and the MSP.",
            "planned",
            "P1Y",
            "cro@acme.example",
            [("dora", "Art 28(3)", "full"), ("dora", "Art 30(2)", "partial")],
        ),
        (
            "ICT-BCP-01",
            "Backup and recovery tests",
            "Quarterly restore tests of the underwriting platform.",
            "active",
            "P3M",
            "cio@acme.example",
            [("dora", "Art 12", "full"), ("dora", "Art 11", "partial")],
        ),
    ],
    "maple": [
        (
            "PRIV-ACC-01",
            "Privacy officer and accountability",
            "Named privacy officer; privacy programme approved by the board.",
            "active",
            "P1Y",
            "privacy@maple.example",
            [("pipeda", "4.1", "full"), ("pipeda", "4.8", "partial")],
        ),
        (
            "PRIV-RES-01",
            "Canadian data residency",
            "Patient data and the models that read it stay in Canada (Toronto data centre, ca-central-1).",
            "active",
            "P6M",
            "privacy@maple.example",
            [("pipeda", "4.7", "full"), ("pipeda", "4.5", "partial")],
        ),
        (
            "PRIV-CON-01",
            "Consent for the intake assistant",
            "Patients consent to the AI intake assistant before it collects anything; a human alternative is offered.",
            "active",
            "P1Y",
            "intake.lead@maple.example",
            [("pipeda", "4.3", "full"), ("pipeda", "4.2", "full")],
        ),
        (
            "PRIV-BR-01",
            "Breach response and 24-month breach records",
            "Breach assessment (real risk of significant "
            "harm), reports to the Commissioner, notices, and the breach record.",
            "active",
            "P1Y",
            "privacy@maple.example",
            [("pipeda", "s.10.1(1)", "full"), ("pipeda", "s.10.1(3)", "full"), ("pipeda", "s.10.3", "full")],
        ),
        (
            "PRIV-ACCESS-01",
            "Patients' access requests",
            "Access and correction requests answered within 30 days.",
            "planned",
            "P1Y",
            "privacy@maple.example",
            [("pipeda", "4.9", "full")],
        ),
    ],
    "harbor": [
        (
            "AIMS-POL-01",
            "AI policy",
            "Board-approved AI policy covering claims automation.",
            "active",
            "P1Y",
            "cdo@harbor.example",
            [("iso-42001", "5.2", "full"), ("iso-42001", "A.2.2", "full"), ("nist-ai-rmf", "GOVERN 1.2", "full")],
        ),
        (
            "AIMS-INV-01",
            "AI system inventory",
            "Every AI asset is registered in Keel; the AI-BOM is regenerated daily.",
            "active",
            "P3M",
            "cdo@harbor.example",
            [("iso-42001", "A.4.2", "full"), ("nist-ai-rmf", "GOVERN 1.6", "full")],
        ),
        (
            "AIMS-LOG-01",
            "Event logging and production monitoring",
            "Agent and model events are logged and monitored in production.",
            "active",
            "P6M",
            "claims.lead@harbor.example",
            [("iso-42001", "A.6.2.8", "full"), ("iso-42001", "A.6.2.6", "partial")],
        ),
        (
            "AIMS-RISK-01",
            "AI risk assessment",
            "Risk assessment of each AI system before production and yearly.",
            "active",
            "P1Y",
            "cdo@harbor.example",
            [
                ("iso-42001", "6.1.2", "full"),
                ("iso-42001", "8.2", "full"),
                ("nist-ai-rmf", "MAP 5.1", "full"),
                ("nist-ai-rmf", "MANAGE 1.2", "partial"),
            ],
        ),
        (
            "AIMS-VAL-01",
            "Verification and validation before release",
            "Offline evaluation and a shadow run before every model or prompt change.",
            "active",
            "P3M",
            "cdo@harbor.example",
            [
                ("iso-42001", "A.6.2.4", "full"),
                ("nist-ai-rmf", "MEASURE 2.3", "full"),
                ("nist-ai-rmf", "MEASURE 2.5", "partial"),
            ],
        ),
        (
            "AIMS-OVS-01",
            "Human approval of payouts",
            "The claims agent proposes payouts; an adjuster approves each.",
            "active",
            "P3M",
            "claims.lead@harbor.example",
            [("nist-ai-rmf", "MAP 3.5", "full"), ("iso-42001", "A.9.2", "partial")],
        ),
        (
            "AIMS-INC-01",
            "AI incident communication",
            "AI incidents are handled and communicated to affected parties.",
            "active",
            "P1Y",
            "cdo@harbor.example",
            [("iso-42001", "A.8.4", "full"), ("nist-ai-rmf", "MANAGE 4.3", "full")],
        ),
        (
            "AIMS-3P-01",
            "Third-party model management",
            "Provider models are assessed before use and monitored.",
            "planned",
            "P1Y",
            "cdo@harbor.example",
            [
                ("iso-42001", "A.10.3", "full"),
                ("nist-ai-rmf", "GOVERN 6.1", "full"),
                ("nist-ai-rmf", "MANAGE 3.2", "full"),
            ],
        ),
    ],
    "northwind": [
        (
            "MSP-MFA-01",
            "MFA for every staff account",
            "Keel and every client tenant require MFA of MSP staff.",
            "active",
            "P6M",
            "admin@northwind.example",
            [("nis2", "Art 21(2)(j)", "full"), ("nis2", "IR 11.7", "full"), ("nis2", "IR 11.6", "partial")],
        ),
        (
            "MSP-INC-01",
            "Incident handling with NIS2 clocks",
            "24-hour early warning, 72-hour notification, one-month final report.",
            "active",
            "P1Y",
            "admin@northwind.example",
            [
                ("nis2", "Art 21(2)(b)", "full"),
                ("nis2", "Art 23(4)(a)", "full"),
                ("nis2", "Art 23(4)(b)", "full"),
                ("nis2", "IR 3.1", "full"),
            ],
        ),
        (
            "MSP-LOG-01",
            "Tamper-evident audit trail",
            "Hash-chained audit trail per client, verified nightly.",
            "active",
            "P6M",
            "admin@northwind.example",
            [("nis2", "IR 3.2", "full")],
        ),
        (
            "MSP-ASSET-01",
            "Asset inventory",
            "Client AI assets and MSP systems inventoried.",
            "active",
            "P3M",
            "admin@northwind.example",
            [("nis2", "IR 12.4", "full")],
        ),
        (
            "MSP-BCP-01",
            "Business continuity and backups",
            "Backups tested quarterly; DR plan reviewed yearly.",
            "planned",
            "P1Y",
            "admin@northwind.example",
            [("nis2", "Art 21(2)(c)", "full"), ("nis2", "IR 4.1", "full")],
        ),
    ],
}

FRAMEWORKS = {
    "acme": [("eu-ai-act", ["deployer"], "high"), ("dora", ["financial_entity"], "all")],
    "maple": [("pipeda", ["organisation"], "all")],
    "harbor": [("iso-42001", ["organisation"], "all"), ("nist-ai-rmf", ["organisation"], "all")],
    "northwind": [("nis2", ["important_entity"], "all")],
}

# Evidence: (title, file name, control codes, days before today it proves, days until it expires or None,
#            state: approved | draft, description)
EVIDENCE = {
    "acme": [
        (
            "Art 5 screening register",
            "art5-screening.csv",
            ["AI-PROH-01"],
            25,
            340,
            "approved",
            "Each AI use case with its prohibited-practice screening result.",
        ),
        (
            "AI literacy training records 2026",
            "ai-literacy-2026.pdf",
            ["AI-LIT-01"],
            40,
            325,
            "approved",
            "Attendance and test results of the 2026 AI literacy course.",
        ),
        (
            "Underwriting AI operating procedure",
            "underwriting-ai-procedure.pdf",
            ["AI-USE-01", "AI-OVS-01"],
            60,
            305,
            "approved",
            "How underwriter-7 and the scoring model are used, reviewed and overridden.",
        ),
        (
            "Log retention configuration (EU log store)",
            "log-retention.json",
            ["AI-LOG-01"],
            12,
            170,
            "approved",
            "Retention policy export: 190 days for prompts, outputs and tool calls.",
        ),
        (
            "FRIA: credit scoring of natural persons",
            "fria-credit-scoring.pdf",
            ["AI-FRIA-01"],
            345,
            18,
            "approved",
            "Fundamental rights impact assessment; due for its yearly update.",
        ),
        (
            "Incident response plan (AI and ICT)",
            "incident-response-plan.md",
            ["AI-INC-01"],
            5,
            365,
            "draft",
            "Draft of the merged AI Act Art 73 / DORA Art 19 procedure, awaiting sign-off.",
        ),
        (
            "ICT risk management framework v4",
            "ict-risk-framework-v4.pdf",
            ["ICT-RISK-01"],
            90,
            275,
            "approved",
            "Board-approved ICT risk management framework.",
        ),
    ],
    "maple": [
        (
            "Canadian data-residency attestation",
            "data-residency-attestation.pdf",
            ["PRIV-RES-01"],
            30,
            335,
            "approved",
            "Patient data, the intake assistant's model (Llama 3.1 70B, ca-central-1) and the triage classifier "
            "(Toronto data centre) stay in Canada; no cross-border transfer.",
        ),
        (
            "Privacy programme charter",
            "privacy-programme.pdf",
            ["PRIV-ACC-01"],
            200,
            165,
            "approved",
            "Privacy officer appointment and programme charter.",
        ),
        (
            "Breach response runbook",
            "breach-runbook.md",
            ["PRIV-BR-01"],
            20,
            345,
            "approved",
            "RROSH assessment, OPC report, notices and the 24-month breach record.",
        ),
        (
            "Intake assistant consent wording",
            "intake-consent.txt",
            ["PRIV-CON-01"],
            3,
            None,
            "draft",
            "Consent text shown before the assistant starts; legal review pending.",
        ),
    ],
    "harbor": [
        (
            "AI policy (board approved)",
            "ai-policy.pdf",
            ["AIMS-POL-01"],
            120,
            245,
            "approved",
            "Harbor's AI policy, approved by the board.",
        ),
        (
            "Claims agent logging and monitoring dashboard",
            "claims-monitoring.png",
            ["AIMS-LOG-01"],
            7,
            90,
            "approved",
            "Screenshot of the production monitoring of the claims agent.",
        ),
        (
            "AI risk assessment: claims processing agent",
            "risk-assessment-claims.pdf",
            ["AIMS-RISK-01"],
            60,
            305,
            "approved",
            "Risk assessment before production, with treatment plan.",
        ),
        (
            "Evaluation report: claims extraction",
            "eval-claims-extraction.csv",
            ["AIMS-VAL-01"],
            14,
            76,
            "approved",
            "Offline evaluation results of the extraction model.",
        ),
        (
            "Payout approval workflow",
            "payout-approval.md",
            ["AIMS-OVS-01"],
            2,
            None,
            "draft",
            "Workflow description; awaiting the claims lead's sign-off.",
        ),
    ],
    "northwind": [
        (
            "Incident handling procedure (NIS2)",
            "incident-procedure-nis2.pdf",
            ["MSP-INC-01"],
            50,
            315,
            "approved",
            "The MSP's incident procedure with the NIS2 reporting clocks.",
        ),
    ],
}

GENERATED_LINKS = {
    "acme": {
        "ai_bom": ["AI-INV-01"],
        "cost_monitoring": ["ICT-MON-01"],
        "staff_mfa": ["ICT-MFA-01"],
        "audit_chain": ["AI-LOG-01"],
    },
    "maple": {"ai_bom": ["PRIV-RES-01"]},
    "harbor": {
        "ai_bom": ["AIMS-INV-01"],
        "cost_monitoring": ["AIMS-LOG-01"],
        "budgets": ["AIMS-RISK-01"],
        "sla_attainment": ["AIMS-LOG-01"],  # production monitoring (ISO 42001 A.6.2.6): the ClaimCenter sync SLO
    },
    "northwind": {"staff_mfa": ["MSP-MFA-01"], "audit_chain": ["MSP-LOG-01"], "ai_bom": ["MSP-ASSET-01"]},
}

# PNG signature + an IHDR-less body is enough for the sniffing check and for a demo download.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def _content(name: str, title: str, description: str, client_name: str) -> bytes:
    ext = name.rsplit(".", 1)[-1]
    if ext == "pdf":
        text = f"{title} - {client_name}. {description}".replace("(", "[").replace(")", "]")
        stream = f"BT /F1 12 Tf 72 720 Td ({text[:90]}) Tj ET".encode()
        return (
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
            + f"4 0 obj<</Length {len(stream)}>>stream\n".encode()
            + stream
            + b"\nendstream endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n"
        )
    if ext == "png":
        return PNG
    if ext == "json":
        return f'{{"document": "{title}", "client": "{client_name}", "retention_days": 190}}\n'.encode()
    if ext == "csv" and name.startswith("eval"):
        return b"metric,value,dataset\nfield accuracy,0.97,500 claims 2026-Q3\nhallucinated fields,0.4%,same\n"
    if ext == "csv":
        return f"use case,screened on,result\nCredit scoring,2026-10-01,no prohibited practice\n# {title}\n".encode()
    return f"# {title}\n\n{client_name}\n\n{description}\n".encode()


def _requirements(ref: str):
    from apps.frameworks.models import Framework, Requirement

    framework = Framework.objects.select_related("current").filter(ref=ref).first()
    if framework is None or framework.current is None:
        return None, {}
    return framework, {r.ref_id: r for r in Requirement.objects.filter(version=framework.current)}


def _ensure_library() -> None:
    from apps.frameworks.models import Framework

    with schema_context("public"):
        if Framework.objects.exists():
            return
        try:
            from apps.frameworks.library import frameworks_load_bundled
        except ImportError:
            logger.warning("compliance demo: no framework library to load")
            return
        frameworks_load_bundled(loaded_by="demo-loader")


def demo_compliance(clients) -> None:
    _ensure_library()
    for slug in ("acme", "maple", "harbor", "northwind"):
        client = clients.get(slug)
        if client is None:
            continue
        with schema_context(client.schema_name), acting_as(source="command", user_email=UPLOADER):
            _demo_client(slug, client)


def _demo_client(slug: str, client) -> None:
    from apps.compliance.generated import evidence_generate
    from apps.compliance.models import ClientFramework, Control, ControlMapping, Evidence
    from apps.compliance.selectors import client_today
    from apps.compliance.services import (
        control_save,
        evidence_approve,
        evidence_check,
        evidence_create,
        evidence_update,
        framework_enable,
        mapping_add,
    )
    from apps.inventory.models import Asset

    today = client_today()
    fresh = not ClientFramework.objects.exists()
    for ref, roles, scope in FRAMEWORKS[slug]:
        framework, _ = _requirements(ref)
        if framework is None or ClientFramework.objects.filter(framework=framework).exists():
            continue
        assets = Asset.objects.exclude(lifecycle="retired")
        if scope == "high":
            assets = assets.filter(risk_tier="high")
        roles = [r for r in roles if r in (framework.current.roles or [])] or list(framework.current.roles or [])[:1]
        with acting_as(user_email=APPROVER):
            framework_enable(
                framework=framework,
                roles=roles,
                assets=list(assets),
                owner_email=CONTROLS[slug][0][5] if CONTROLS[slug] else "",
            )

    for code, name, description, status, frequency, owner, mappings in CONTROLS[slug]:
        control = Control.objects.filter(code=code).first() or control_save(
            code=code, name=name, description=description, status=status, review_frequency=frequency, owner_email=owner
        )
        for ref, ref_id, coverage in mappings:
            _framework, by_ref = _requirements(ref)
            requirement = by_ref.get(ref_id)
            if requirement is None or not requirement.assessable:
                continue
            if not ControlMapping.objects.filter(control=control, urn=requirement.urn).exists():
                mapping_add(control=control, urn=requirement.urn, coverage=coverage)

    codes = {c.code: c for c in Control.objects.all()}
    for title, file_name, control_codes, proves_days_ago, expires_in, state, description in EVIDENCE.get(slug, []):
        if Evidence.objects.filter(title=title).exists():
            continue
        evidence = evidence_create(
            title=title,
            description=description,
            file=ContentFile(_content(file_name, title, description, client.name), name=file_name),
            effective_date=today - dt.timedelta(days=proves_days_ago),
            expires_on=today + dt.timedelta(days=expires_in) if expires_in is not None else None,
            controls=[codes[c] for c in control_codes if c in codes],
        )
        if state == "approved":
            with acting_as(user_email=APPROVER):  # four eyes: the account manager approves the engineer's upload
                evidence_approve(evidence=evidence, note="Reviewed for the demo audit.")

    if not Evidence.objects.filter(kind=Evidence.Kind.GENERATED).exists():
        evidence_generate()  # afterwards the daily task keeps them current (a rerun of the demo would not)
    for evidence in Evidence.objects.filter(kind=Evidence.Kind.GENERATED):
        wanted = [codes[c] for c in GENERATED_LINKS.get(slug, {}).get(evidence.generator, []) if c in codes]
        linked = set(evidence.controls.values_list("pk", flat=True))
        if wanted and not {c.pk for c in wanted} <= linked:
            evidence_update(
                evidence=evidence,
                title=evidence.title,
                description=evidence.description,
                expires_on=evidence.expires_on,
                controls=list(evidence.controls.all()) + [c for c in wanted if c.pk not in linked],
            )
    evidence_check(today=today, verify_files=False)  # raises the expiring-evidence alert
    if fresh:
        _trend_history(today)


def _trend_history(today: dt.date, days: int = 30) -> None:
    """A month of readiness points climbing to today's, so the trend chart has a shape on a new demo."""
    from apps.compliance.models import ClientFramework, ReadinessSnapshot

    now = timezone.now()
    for cf in ClientFramework.objects.select_related("version"):
        current = ReadinessSnapshot.objects.filter(client_framework=cf, day=today).first()
        if current is None or current.score is None:
            continue
        for back in range(days, 0, -1):
            day = today - dt.timedelta(days=back)
            factor = Decimal("0.45") + Decimal("0.55") * Decimal(days - back) / days
            if back % 7 in (2, 3):  # flat stretches: nothing changes every day
                factor -= Decimal("0.03")
            score = (current.score * factor).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            ReadinessSnapshot.objects.get_or_create(
                client_framework=cf,
                day=day,
                defaults={
                    "version_number": cf.version.version,
                    "score": score,
                    "counts": {},
                    "gaps": 0,
                    "taken_at": now,
                },
            )
