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
