"""Demo audit pack: Acme's auditor (auditor@kpmg.example) asked for the last quarter's pack, so the audit-pack
page shows one ready to download and verify. Built at once (not queued), after the compliance and incidents
demos so it holds their evidence, incidents and audit trail. Idempotent: a client with a pack gets no other."""

from __future__ import annotations

import datetime as dt
import logging

from django_tenants.utils import tenant_context

from apps.core.context import acting_as

logger = logging.getLogger(__name__)

PACKS = {"acme": ("auditor@kpmg.example", 90)}  # slug: (who asked, days back)


def demo_auditpacks(clients) -> None:
    from apps.auditpacks.models import AuditPack
    from apps.auditpacks.services import auditpack_build, auditpack_request, client_today

    for slug, (who, days) in PACKS.items():
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client):
            if AuditPack.objects.exists():
                continue
            today = client_today()
            with acting_as(source="portal", user_email=who):
                pack = auditpack_request(period_from=today - dt.timedelta(days=days - 1), period_to=today)
            # Built here rather than by a worker, so the page has a ready pack on first start (the queued task
            # finds it ready and leaves it alone).
            with acting_as(source="task"):
                try:
                    auditpack_build(pack.pk)
                except Exception:  # the pack records its failure; the rest of the demo goes on
                    logger.exception("demo audit pack of %s failed", slug)
