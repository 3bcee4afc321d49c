"""Scheduled compliance work, per client schema (beat entries in config/celery.py)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("compliance.generate_evidence", max_retries=2)
def generate_evidence_task(generators: list[str] | None = None) -> dict:
    """Daily: regenerate Keel's own evidence (AI-BOM, cost monitoring, budgets, staff MFA, audit chain)."""
    from .generated import evidence_generate

    results = evidence_generate(generators=generators)
    return {r.generator: {"revision": r.revision.number, "changed": r.changed} for r in results}


@keel_task("compliance.evidence_check", max_retries=2)
def evidence_check_task() -> dict:
    """Daily: expiry warnings (30/7 days) and expiry, SHA-256 re-verification of every stored file, reviews due."""
    from .services import evidence_check

    return evidence_check()


@keel_task("compliance.readiness_snapshot", max_retries=2)
def readiness_snapshot_task() -> dict:
    """Daily: one readiness point per enabled framework for the trend."""
    from .services import readiness_snapshots_take

    return {"frameworks": readiness_snapshots_take()}
