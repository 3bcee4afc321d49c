from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.catalog.services import BUNDLED_CATALOG, CatalogError, catalog_load
from apps.core.context import acting_as


class Command(BaseCommand):
    help = "Load (or refresh from a newer file) the model price catalog in LiteLLM's format."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(BUNDLED_CATALOG), help="Catalog JSON (default: bundled)")

    def handle(self, *args, path, **options):
        try:
            with acting_as(source="command"):
                result = catalog_load(path=Path(path), loaded_by="load_model_catalog")
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        if result.unchanged:
            self.stdout.write(f"Catalog unchanged ({result.entries} models, sha256 {result.sha256[:12]}…).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Catalog loaded: {result.entries} models ({result.added} new, {result.removed} removed, "
                    f"{result.skipped_fields} unusable fields ignored)."
                )
            )
