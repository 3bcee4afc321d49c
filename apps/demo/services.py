"""The demo MSP "Northwind AI Operations": three clients, its own internal workspace and their people, created
through the services.

Idempotent: a second run finds everything in place and changes nothing. Later capabilities add their own
demo data through `demo_load` steps that also check before they write.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership, User
from apps.accounts.roles import Role
from apps.accounts.services import membership_grant, user_create
from apps.core.context import acting_as
from apps.tenancy.models import Client
from apps.tenancy.services import client_create, client_set_lifecycle

# Fixed secrets so the printed logins work on every run of the demo; never used outside the demo.
DEMO_PASSWORD = "keel-demo-2026"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPKEELDEMO"  # base32; add it to any authenticator app


@dataclass(frozen=True)
class DemoClient:
    slug: str
    name: str
    industry: str
    time_zone: str
    currency: str
    region: str
    service_tier: str
    sla_tier: str
    retainer: Decimal


DEMO_CLIENTS = [
    DemoClient(
        "acme",
        "Acme Underwriting",
        "Fintech (credit underwriting)",
        "Europe/Berlin",
        "EUR",
        "eu",
        "enterprise",
        "gold",
        Decimal("18500.00"),
    ),
    DemoClient(
        "maple",
        "Maple Health Clinics",
        "Healthcare (Ontario clinics)",
        "America/Toronto",
        "CAD",
        "ca",
        "professional",
        "silver",
        Decimal("9200.00"),
    ),
    DemoClient(
        "harbor",
        "Harbor Insurance",
        "Insurance (claims)",
        "America/New_York",
        "USD",
        "us",
        "professional",
        "gold",
        Decimal("12750.00"),
    ),
    # "Client zero": the MSP's own workspace. NIS2 puts managed service providers themselves in scope
    # (Annex I, ICT service management), so the MSP keeps its own register the way it keeps its clients'.
    DemoClient(
        "northwind",
        "Northwind AI Operations (internal)",
        "Managed AI services (our own operations)",
        "Europe/Amsterdam",
        "EUR",
        "eu",
        "essential",
        "bronze",
        Decimal("0.00"),
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    note: str


def _user(email: str, full_name: str, msp_role: str = "", totp: bool = False) -> User:
    user = User.objects.filter(email=email).first() or user_create(
        email=email, password=DEMO_PASSWORD, full_name=full_name, msp_role=msp_role
    )
    if totp and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user


def _grant(user: User, client: Client, role: str, **kwargs) -> None:
    if not Membership.objects.filter(user=user, client=client).exists():
        membership_grant(user=user, client=client, role=role, **kwargs)


def demo_load() -> list[DemoLogin]:
    with acting_as(source="command", user_email="demo-loader"):
        clients = {}
        for spec in DEMO_CLIENTS:
            client = Client.objects.filter(slug=spec.slug).first()
            if client is None:
                client = client_create(
                    slug=spec.slug,
                    name=spec.name,
                    industry=spec.industry,
                    time_zone=spec.time_zone,
                    reporting_currency=spec.currency,
                    data_residency_region=spec.region,
                    service_tier=spec.service_tier,
                    sla_tier=spec.sla_tier,
                    monthly_retainer=spec.retainer,
                )
                client_set_lifecycle(client=client, lifecycle=Client.Lifecycle.ACTIVE)
            clients[spec.slug] = client

        with transaction.atomic():
            _user("admin@northwind.example", "Nadia Okafor", Role.MSP_ADMIN, totp=True)
            manager = _user("am@northwind.example", "Sam Rivera", Role.ACCOUNT_MANAGER, totp=True)
            engineer = _user("engineer@northwind.example", "Lee Chen", Role.ENGINEER, totp=True)
            executive = _user("cfo@acme.example", "Dana Weber")
            for slug in ("acme", "maple", "harbor", "northwind"):
                _grant(manager, clients[slug], Role.ACCOUNT_MANAGER)
            _grant(engineer, clients["acme"], Role.ENGINEER)
            _grant(engineer, clients["harbor"], Role.ENGINEER)
            _grant(executive, clients["acme"], Role.CLIENT_EXECUTIVE)
            auditor = _user("auditor@kpmg.example", "Ira Patel")
            _grant(auditor, clients["acme"], Role.AUDITOR, expires_at=timezone.now() + timezone.timedelta(days=90))

    for step in _demo_steps():
        step(clients)

    return [
        DemoLogin("MSP admin", "admin@northwind.example", DEMO_PASSWORD, "TOTP"),
        DemoLogin("Account manager", "am@northwind.example", DEMO_PASSWORD, "TOTP"),
        DemoLogin("Engineer", "engineer@northwind.example", DEMO_PASSWORD, "TOTP"),
        DemoLogin("Client executive (Acme)", "cfo@acme.example", DEMO_PASSWORD, "no MFA"),
        DemoLogin("Auditor (Acme, 90 days)", "auditor@kpmg.example", DEMO_PASSWORD, "no MFA"),
    ]


def _demo_steps():
    """Each capability's demo data, in dependency order."""
    from .alerts_demo import demo_alerts
    from .allocation_demo import demo_allocation
    from .anomalies_demo import demo_anomalies
    from .assessments_demo import demo_assessments
    from .auditpacks_demo import demo_auditpacks
    from .budgets_demo import demo_budgets
    from .compliance_demo import demo_compliance
    from .finops_demo import demo_finops
    from .incidents_demo import demo_incidents
    from .inventory_demo import demo_departments, demo_inventory
    from .recommendations_demo import demo_recommendations
    from .reports_demo import demo_reports
    from .runaway_demo import demo_runaway
    from .service_levels_demo import demo_service_levels
    from .shadow_ai_demo import demo_shadow_ai
    from .unit_economics_demo import demo_unit_economics

    return [
        demo_departments,
        demo_inventory,
        demo_finops,
        demo_allocation,
        demo_unit_economics,
        demo_budgets,
        demo_anomalies,
        demo_runaway,
        demo_shadow_ai,
        demo_recommendations,
        demo_compliance,
        demo_incidents,
        demo_auditpacks,
        demo_assessments,
        demo_service_levels,
        demo_alerts,
        demo_reports,  # last: its reports read every other step's data, then it refreshes the console
    ]
