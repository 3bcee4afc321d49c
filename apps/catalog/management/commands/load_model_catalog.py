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
            self.stdout.write(f"Catalog unchanged: {path} is already loaded ({result.entries} models).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalog loaded: {result.entries} models ({result.added} new, {result.changed} changed, "
                f"{result.removed} removed)."
            )
        )
        if result.added < result.entries:  # on a first load every model is new: no point listing them
            for label, count, keys in (
                ("New", result.added, result.added_keys),
                ("Changed", result.changed, result.changed_keys),
                ("Removed", result.removed, result.removed_keys),
            ):
                if count:
                    more = f" and {count - len(keys)} more" if count > len(keys) else ""
                    self.stdout.write(f"  {label}: {', '.join(keys)}{more}")
        skipped = []
        if result.skipped_entries:
            skipped.append(f"{result.skipped_entries} keys that are not model entries")
        if result.skipped_fields:
            skipped.append(f"{result.skipped_fields} unusable fields, left empty")
        if skipped:
            self.stdout.write(f"  Skipped: {'; '.join(skipped)}.")
        if result.rounded_prices:
            self.stdout.write(
                f"  Rounded: {result.rounded_prices} prices with more than 12 decimal places (exact in the raw entry)."
            )
