from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from apps.audit.selectors import audit_chain_verify
from apps.tenancy.selectors import all_schemas_with_audit


class Command(BaseCommand):
    help = "Verify the hash-chained audit log of one client (--client SLUG), the MSP (--client public) or all."

    def add_arguments(self, parser):
        parser.add_argument("--client", help="client slug, or 'public' for MSP staff actions; default: all")

    def handle(self, *args, client=None, **options):
        schemas = all_schemas_with_audit(slug=client)
        if not schemas:
            raise CommandError(f"No client with slug {client!r}.")
        broken = []
        for label, schema in schemas:
            with schema_context(schema):
                result = audit_chain_verify()
            line = f"{label}: {result.describe()}"
            if result.ok:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                broken.append(f"{label} at event #{result.first_broken_seq}")
                self.stdout.write(self.style.ERROR(line))
        if broken:
            raise CommandError(f"{len(broken)} audit chain(s) broken: {', '.join(broken)}.")
