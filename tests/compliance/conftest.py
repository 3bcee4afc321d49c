"""Compliance fixtures: a small framework library built row by row (so these tests never depend on the bundled
data files), assets in alpha's inventory, controls and evidence made through the services, and a clock.

The library (public schema):
    tf-ai-act v1 (roles provider, deployer; tiers unacceptable/high/limited/minimal)
        CH3 (group)
          ART9     provider, high                      risk management
          ART26-1  deployer, high                      use per instructions
          ART26-6  deployer, high, model/agent         keep logs           ↔ tf-iso A.6.2.8 (equal)
        ART4       everyone                            AI literacy
        ART50-1    provider, limited                   chatbot disclosure
        ART50-3    deployer, limited                   emotion recognition notice
    tf-iso v1 (role organisation)
        A.2.2 AI policy                                                    → tf-nist GV-1.1 (intersect)
        A.6.2.8 event logs
    tf-nist v1 (role organisation)
        GV-1.1 legal requirements
        MS-2.4 production monitoring                                       → tf-iso A.6.2.8 (subset)
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.frameworks.models import Framework, FrameworkVersion, Requirement

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_file(name="policy.pdf", body: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def node(ref_id, title, *, parent="", assessable=True, roles=(), tiers=(), types=(), mappings=(), **extra):
    return {
        "ref_id": ref_id,
        "title": title,
        "parent": parent,
        "assessable": assessable,
        "roles": list(roles),
        "risk_tiers": list(tiers),
        "asset_types": list(types),
        "mappings": [{"target": t, "relation": r} for t, r in mappings],
        **extra,
    }


def urn(ref: str, ref_id: str) -> str:
    return f"urn:keel:fw:{ref}:{ref_id.lower().replace('.', '-')}"


def make_framework(ref: str, nodes: list[dict], *, version: int = 1, roles=("organisation",), tiers=(), changes=None):
    """A framework version with its requirement rows; becomes the framework's current version."""
    framework = Framework.objects.filter(ref=ref).first() or Framework.objects.create(
        ref=ref, urn=f"urn:keel:fw:{ref}", name=f"Test framework {ref}", short_name=ref.upper()
    )
    fv = FrameworkVersion.objects.create(
        framework=framework,
        version=version,
        name=f"{ref} v{version}",
        licence="test",
        roles=list(roles),
        risk_tiers=list(tiers),
        source=f"tests/{ref}.yaml",
        sha256="0" * 64,
        requirement_count=len(nodes),
        changes=changes or {},
    )
    depth = {}
    rows = []
    for position, n in enumerate(nodes):
        parent_urn = urn(ref, n["parent"]) if n["parent"] else ""
        depth[n["ref_id"]] = depth.get(n["parent"], 0) + 1
        rows.append(
            Requirement(
                version=fv,
                urn=n.get("urn") or urn(ref, n["ref_id"]),
                ref_id=n["ref_id"],
                title=n["title"],
                description=n.get("description", ""),
                parent_urn=parent_urn,
                depth=depth[n["ref_id"]],
                position=position,
                assessable=n["assessable"],
                roles=n["roles"],
                risk_tiers=n["risk_tiers"],
                asset_types=n["asset_types"],
                mappings=n["mappings"],
                review_frequency="P1Y",
            )
        )
    Requirement.objects.bulk_create(rows)
    framework.current = fv
    framework.save(update_fields=["current"])
    return fv


AI_ACT_NODES = [
    node("CH3", "High-risk AI systems", assessable=False),
    node("ART9", "Risk management system", parent="CH3", roles=["provider"], tiers=["high"]),
    node("ART26-1", "Use according to instructions", parent="CH3", roles=["deployer"], tiers=["high"]),
    node(
        "ART26-6",
        "Keep the logs",
        parent="CH3",
        roles=["deployer"],
        tiers=["high"],
        types=["model", "agent"],
        mappings=[(urn("tf-iso", "A.6.2.8"), "equal")],
    ),
    node("ART4", "AI literacy"),
    node("ART50-1", "Tell people they talk to an AI", roles=["provider"], tiers=["limited"]),
    node("ART50-3", "Emotion recognition notice", roles=["deployer"], tiers=["limited"]),
]
ISO_NODES = [
    node("A.2.2", "AI policy", mappings=[(urn("tf-nist", "GV-1.1"), "intersect")]),
    node("A.6.2.8", "AI system recording of event logs"),
]
NIST_NODES = [
    node("GV-1.1", "Legal and regulatory requirements are understood"),
    node("MS-2.4", "Production behaviour is monitored", mappings=[(urn("tf-iso", "A.6.2.8"), "subset")]),
]


@pytest.fixture
def library(in_alpha):
    return {
        "ai_act": make_framework(
            "tf-ai-act",
            AI_ACT_NODES,
            roles=["provider", "deployer"],
            tiers=["unacceptable", "high", "limited", "minimal"],
        ),
        "iso": make_framework("tf-iso", ISO_NODES),
        "nist": make_framework("tf-nist", NIST_NODES),
    }


@pytest.fixture
def assets(in_alpha):
    from apps.inventory.models import Agent, AIModel

    scorer = AIModel.objects.create(
        kind="model",
        name="Credit scorer",
        provider="self-hosted",
        model_id="credit-v3",
        risk_tier="high",
        annex_iii_area="III.5",
        lifecycle="production",
    )
    chatbot = Agent.objects.create(kind="agent", name="Support bot", risk_tier="limited", lifecycle="production")
    return {"scorer": scorer, "chatbot": chatbot}


@pytest.fixture
def media(settings, tmp_path):
    """Evidence files in a folder of this test's own (FileSystemStorage follows MEDIA_ROOT changes)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def clock():
    from freezegun import freeze_time

    with freeze_time("2026-11-20 10:00:00", tick=True) as frozen:
        yield frozen


def enable(version, *, roles=(), assets=(), owner_email=""):
    from apps.compliance.services import framework_enable

    return framework_enable(
        framework=version.framework, version=version, roles=roles, assets=assets, owner_email=owner_email
    )


def make_control(code="AI-LOG-01", name="Central AI logging", status="active", **fields):
    from apps.compliance.services import control_save

    return control_save(code=code, name=name, status=status, **fields)


def approved_evidence(control, *, title="Logging configuration", expires_on=None, effective=None, body=PDF):
    """Evidence uploaded and approved (self-approval) for a control."""
    from apps.compliance.services import evidence_create

    return evidence_create(
        title=title,
        file=pdf_file(body=body),
        effective_date=effective or TODAY - dt.timedelta(days=10),
        expires_on=expires_on,
        controls=[control],
        approve=True,
    )


def text_upload(name: str, body: bytes) -> ContentFile:
    """A file object keeping its name exactly as given (UploadedFile would strip a path: the API and the
    multipart parser do that too, but the service must refuse tricks on its own)."""
    return ContentFile(body, name=name)


def bytes_io(body: bytes) -> io.BytesIO:
    return io.BytesIO(body)
