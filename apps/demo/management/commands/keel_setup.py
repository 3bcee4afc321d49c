"""Bring a database to a runnable state: public schema, template schema, every client migrated, demo data."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.tenancy.services import public_client_ensure


class Command(BaseCommand):
    help = "Migrate the public schema and all client schemas (in parallel); --demo loads the demo data."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="load the demo MSP (idempotent)")

    def handle(self, *args, demo=False, **options):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_client_ensure(msp_name=settings.KEEL_MSP_NAME)
        call_command("migrate_schemas", tenant=True, executor="multiprocessing", interactive=False, verbosity=0)
        from apps.catalog.services import catalog_load_bundled

        catalog_load_bundled()  # the model price catalog; skipped when the bundled file is already loaded
        from apps.frameworks.library import frameworks_load_bundled

        frameworks_load_bundled()  # the compliance framework library; unchanged files are skipped
        from apps.assessment_templates.library import templates_load_bundled

        templates_load_bundled()  # the capability-matrix templates; unchanged files are skipped
        if demo:
            from apps.demo.services import DEMO_TOTP_SECRET, demo_load

            logins = demo_load()
            self.stdout.write("Demo logins (password, then MFA where shown):")
            for login in logins:
                self.stdout.write(f"  {login.role:<28} {login.email:<30} {login.password}   {login.note}")
            self.stdout.write(f"  Staff TOTP secret (add to an authenticator app): {DEMO_TOTP_SECRET}")
