from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core.context import acting_as
from apps.tenancy.services import client_create


class Command(BaseCommand):
    help = "Create a client: its schema (cloned from the template), routing slug and settings."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--region", default="us")
        parser.add_argument("--service-tier", default="professional")
        parser.add_argument("--sla-tier", default="silver")
        parser.add_argument("--retainer", default="0")

    def handle(self, *args, **opts):
        try:
            with acting_as(source="command"):
                client = client_create(
                    slug=opts["slug"],
                    name=opts["name"],
                    time_zone=opts["time_zone"],
                    reporting_currency=opts["currency"],
                    data_residency_region=opts["region"],
                    service_tier=opts["service_tier"],
                    sla_tier=opts["sla_tier"],
                    monthly_retainer=opts["retainer"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        message = f"Created {client.name} at /c/{client.slug}/ (schema {client.schema_name})"
        self.stdout.write(self.style.SUCCESS(message))
