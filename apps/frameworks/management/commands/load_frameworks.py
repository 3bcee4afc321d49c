from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.context import acting_as
from apps.frameworks.library import (
    FrameworkFileError,
    FrameworkLoadError,
    bundled_files,
    framework_load,
    known_node_urns,
    node_urns_of,
    parse_framework_file,
)


class Command(BaseCommand):
    help = (
        "Load framework files (keel-framework/1) into the library; without paths, every bundled file. "
        "--check only validates (exit status 1 on any error)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Framework YAML files (default: apps/frameworks/data/*.yaml)")
        parser.add_argument("--check", action="store_true", help="Validate only; load nothing")

    def handle(self, *args, paths, check, **options):
        files = [Path(p) for p in paths] or bundled_files()
        if not files:
            raise CommandError("No framework files to load.")
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        # Targets in the files given together count as known, so partners can be checked or loaded in one go.
        known = known_node_urns() | node_urns_of(files)
        failed = False
        for path in files:
            try:
                if check:
                    parsed = parse_framework_file(path, known_urns=known)
                    self._warnings(parsed.warnings)
                    self.stdout.write(f"{path.name}: valid - {parsed.ref} v{parsed.version}, {len(parsed.nodes)} nodes")
                    continue
                with acting_as(source="command"):
                    result = framework_load(path, loaded_by="load_frameworks", known_urns=known)
            except FrameworkFileError as exc:
                failed = True
                for problem in exc.problems:
                    (self.stdout if problem.warning else self.stderr).write(str(problem))
                continue
            except FrameworkLoadError as exc:
                failed = True
                self.stderr.write(str(exc))
                continue
            self._warnings(result.warnings)
            version = result.version
            if result.unchanged:
                self.stdout.write(f"{path.name}: unchanged - {version.framework.ref} v{version.version} is loaded")
                continue
            changes = result.changes
            against = changes.get("previous_version")
            detail = (
                f"{len(changes['added'])} added, {len(changes['removed'])} removed, {len(changes['changed'])} changed "
                f"against v{against}"
                if against
                else "first version"
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"{path.name}: loaded {version.framework.ref} v{version.version} "
                    f"({version.requirement_count} nodes; {detail})"
                )
            )
        if failed:
            raise CommandError("Some files have problems; nothing was loaded from them.", returncode=1)

    def _warnings(self, warnings):
        for warning in warnings:
            self.stdout.write(self.style.WARNING(str(warning)))
