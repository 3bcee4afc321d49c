from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.assessment_templates.library import (
    DATA_DIR,
    TemplateFileError,
    TemplateLoadError,
    bundled_files,
    parse_template_file,
    template_store,
    template_upload_store,
)
from apps.core.context import acting_as


class Command(BaseCommand):
    help = (
        "Load assessment template files (keel-maturity/1); without paths, every bundled file. "
        "--check only validates (exit status 1 on any error)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Template YAML files (default: apps/assessment_templates/data/)")
        parser.add_argument("--check", action="store_true", help="Validate only; load nothing")

    def handle(self, *args, paths, check, **options):
        files = [Path(p) for p in paths] or bundled_files()
        if not files:
            raise CommandError("No template files to load.")
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        failed = False
        for path in files:
            try:
                parsed = parse_template_file(path)
                if check:
                    self.stdout.write(
                        f"{path.name}: valid - {parsed.key} v{parsed.version}, {len(parsed.dimensions)} dimensions, "
                        f"{len(parsed.questions)} questions"
                    )
                    continue
                with acting_as(source="command"):
                    if path.resolve().parent == DATA_DIR:
                        result = template_store(parsed, loaded_by="load_assessment_templates", skip_older=True)
                    else:  # the MSP's own file: a new key, or the next version of one of its own
                        result = template_upload_store(parsed, by="load_assessment_templates")
            except TemplateFileError as exc:
                failed = True
                for problem in exc.problems:
                    self.stderr.write(str(problem))
                continue
            except TemplateLoadError as exc:
                failed = True
                self.stderr.write(f"{path.name}: {exc}")
                continue
            state = "loaded" if result.created else "unchanged -"
            self.stdout.write(f"{path.name}: {state} {result.template.key} v{result.version.version}")
        if failed:
            raise CommandError("Some files were not valid or not loaded; nothing else changed.")
