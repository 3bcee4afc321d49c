from apps.core.tasks import keel_task


@keel_task("alerts.deliver", max_retries=0, lock=False)
def deliver_alert_task(alert_id: int, event: str) -> int:
    from .services_delivery import deliveries_create_and_send

    return deliveries_create_and_send(alert_id=alert_id, event=event)


@keel_task("alerts.retry_failed_deliveries", max_retries=0)
def retry_failed_deliveries_task() -> int:
    from .services_delivery import deliveries_retry_due

    return deliveries_retry_due()
