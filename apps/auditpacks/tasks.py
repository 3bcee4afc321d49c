"""Audit packs are built in the background (a big register must never time out a request)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("auditpacks.build", max_retries=0)
def build_audit_pack_task(pack_id: int) -> dict:
    """Build one requested pack in this client's schema; a failure is recorded on the pack and the run."""
    from .services import auditpack_build

    return auditpack_build(pack_id)
