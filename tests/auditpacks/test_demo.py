"""The demo's pack: built at once for the client (ready, verifiable), and never a second one."""

from __future__ import annotations

import io

from apps.auditpacks.models import AuditPack
from apps.auditpacks.verify import verify_pack
from apps.demo.auditpacks_demo import demo_auditpacks

from .conftest import pack_bytes


def test_demo_builds_one_ready_pack_and_is_idempotent(register, alpha):
    demo_auditpacks({"acme": alpha})  # the demo's Acme story, on the test client
    pack = AuditPack.objects.get()
    assert pack.status == AuditPack.Status.READY and pack.requested_by == "auditor@kpmg.example"
    assert (pack.period_to - pack.period_from).days == 89
    assert verify_pack(io.BytesIO(pack_bytes(pack))).ok
    demo_auditpacks({"acme": alpha})
    assert AuditPack.objects.count() == 1
