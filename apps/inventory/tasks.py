from apps.core.tasks import keel_task


@keel_task("inventory.daily_check", max_retries=2)
def inventory_daily_check_task() -> dict:
    """Re-match models to the price catalog, then recompute every guardrail (dates move even when data doesn't)."""
    from .deprecation import model_catalog_match
    from .guardrails import guardrails_evaluate

    matched = model_catalog_match()
    return {"models_matched": matched, **guardrails_evaluate()}
