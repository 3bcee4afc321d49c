from apps.core.tasks import keel_task


@keel_task("portfolio.refresh_client_rollup", max_retries=3)
def refresh_client_rollup_task() -> None:
    from .services import client_rollup_refresh

    client_rollup_refresh()
