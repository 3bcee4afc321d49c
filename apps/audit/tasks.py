import logging

from django.db import connection

from apps.core.tasks import keel_task

logger = logging.getLogger(__name__)


@keel_task("audit.verify_chain", max_retries=0)
def verify_chain_task() -> bool:
    """Daily proof of the current schema's chain; a break raises a critical alert in the client workspace."""
    from .selectors import audit_chain_verify

    result = audit_chain_verify()
    if connection.schema_name == "public":
        if not result.ok:
            logger.error("MSP audit chain broken: %s", result.describe())
        return result.ok

    from apps.alerts.services import alert_raise, alert_resolve_condition

    if result.ok:
        alert_resolve_condition(dedup_key="audit:chain", note=result.describe())
    else:
        alert_raise(
            kind="audit_chain",
            severity="critical",
            subject="Audit trail failed verification",
            body=result.describe(),
            dedup_key="audit:chain",
            link="/audit/",
        )
    return result.ok
