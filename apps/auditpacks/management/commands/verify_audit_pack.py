from django.core.management.base import BaseCommand, CommandError

from apps.auditpacks.verify import verify_pack


class Command(BaseCommand):
    help = (
        "Verify an audit pack ZIP offline: manifest lists every file, sizes and SHA-256, the Ed25519 signature "
        "(against --public-key when given) and the audit-trail chain. Same checks as "
        "`python -m apps.auditpacks.verify`, which needs no Django settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("pack", help="path of the audit pack ZIP")
        parser.add_argument("--public-key", help="the expected Ed25519 public key (base64 of the raw 32 bytes)")
        parser.add_argument("--fingerprint", help="or its SHA-256 fingerprint (hex)")

    def handle(self, *args, pack, public_key=None, fingerprint=None, **options):
        report = verify_pack(pack, public_key=public_key, fingerprint=fingerprint)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"FAIL {problem}"))
        raise CommandError(f"{len(report.problems)} problem(s): the pack does not verify.")
