"""Reads of audit packs and of the key that signs them."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import AuditPack


def packs_list() -> QuerySet[AuditPack]:
    """Newest first, with their frameworks, in two queries whatever the number of packs."""
    from apps.compliance.models import ClientFramework

    frameworks = ClientFramework.objects.select_related("framework", "version").order_by("framework__short_name")
    return AuditPack.objects.prefetch_related(Prefetch("frameworks", queryset=frameworks)).order_by(
        "-requested_at", "-id"
    )


def pack_get(pk) -> AuditPack | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return packs_list().filter(pk=pk).first()


def signing_key_info() -> dict:
    """What the audit-pack page shows so an auditor can compare the key out of band."""
    from .signing import SOURCE_SETTING, signing_key

    key = signing_key()
    return {
        "fingerprint": key.fingerprint,
        "fingerprint_grouped": key.fingerprint_grouped,
        "public_key": key.public_key_b64,
        "source": key.source,
        "from_setting": key.source == SOURCE_SETTING,
    }
