"""Scheduled FinOps work: a per-minute dispatcher per client enqueues the billing sources that are due."""

from __future__ import annotations

from apps.core.tasks import TransientError, keel_task

from .models import BillingSource, IngestionRun


@keel_task("finops.dispatch_due_sources", max_retries=0)
def dispatch_due_sources_task() -> int:
    """Claim each due source (moving its next run forward first, so no source is queued twice)."""
    from .services import source_claim_next_run, sources_due

    count = 0
    for source in sources_due():
        source_claim_next_run(source=source)
        ingest_source_task.delay(source.pk)
        count += 1
    return count


@keel_task("finops.ingest_source", max_retries=5)
def ingest_source_task(source_id: int, trigger: str = IngestionRun.Trigger.SCHEDULE) -> str:
    """One pull of one source; the lock keeps a source from running twice at once."""
    from .services import ingestion_run_execute, ingestion_run_gave_up

    source = BillingSource.objects.filter(pk=source_id, enabled=True).exclude(kind="focus_upload").first()
    if source is None:
        return "source removed, disabled or not pulled"
    try:
        run = ingestion_run_execute(source=source, trigger=trigger)
    except TransientError as exc:
        from celery import current_task

        if current_task and (current_task.request.retries or 0) >= current_task.max_retries:
            ingestion_run_gave_up(source=source, error=str(exc))
        raise
    return run.status


@keel_task("finops.prune_uploads", max_retries=0)
def prune_uploads_task() -> int:
    from .services import focus_uploads_prune

    return focus_uploads_prune()


@keel_task("finops.allocation_recompute", max_retries=2)
def allocation_recompute_task() -> dict:
    """Re-allocate the whole ledger after the rules changed (and nightly, for renamed assets/departments)."""
    from .allocation import allocation_recompute_pending

    return allocation_recompute_pending()
