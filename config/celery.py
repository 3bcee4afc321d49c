"""Celery for Keel: tenant-aware tasks (the client schema travels with each message), beat in code."""

import os

from celery.schedules import crontab
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = CeleryApp("keel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Entries without "tenant_schemas" run once per live client; "public" ones run once for the MSP.
# Every entry expires so that a beat restart or a stopped worker never piles up stale work.
app.conf.beat_schedule = {
    "alerts-retry-deliveries": {
        "task": "alerts.retry_failed_deliveries",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    "audit-verify-chain": {
        "task": "audit.verify_chain",
        "schedule": crontab(hour=3, minute=10),
        "options": {"expires": 6 * 3600},
    },
    "audit-verify-chain-public": {
        "task": "audit.verify_chain",
        "schedule": crontab(hour=3, minute=5),
        "tenant_schemas": ["public"],
        "options": {"expires": 6 * 3600},
    },
    "portfolio-refresh-rollups": {
        "task": "portfolio.refresh_client_rollup",
        "schedule": crontab(minute=7),
        "options": {"expires": 50 * 60},
    },
    "inventory-daily-check": {
        "task": "inventory.daily_check",
        "schedule": crontab(hour=2, minute=20),
        "options": {"expires": 6 * 3600},
    },
    "finops-dispatch-due-sources": {
        "task": "finops.dispatch_due_sources",
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    "finops-prune-uploads": {
        "task": "finops.prune_uploads",
        "schedule": crontab(hour=4, minute=30),
        "tenant_schemas": ["public"],  # one folder for every client's pending uploads
        "options": {"expires": 6 * 3600},
    },
    "finops-allocation-nightly": {
        "task": "finops.allocation_recompute",
        "schedule": crontab(hour=1, minute=40),  # catches assets/departments renamed since the last change
        "options": {"expires": 6 * 3600},
    },
    "reports-monthly-due": {
        "task": "reports.monthly_due",  # drafts last month's report once the month turns in the client's zone
        "schedule": crontab(minute=12),
        "options": {"expires": 50 * 60},
    },
    "service-levels-evaluate": {
        "task": "service_levels.evaluate",  # budgets, burn-rate alerts, closed periods → breaches and credits
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    "runaway-scan": {
        "task": "runaway.scan",
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    "budgets-evaluate": {
        "task": "budgets.evaluate",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    "compliance-generate-evidence": {
        "task": "compliance.generate_evidence",
        "schedule": crontab(hour=4, minute=40),
        "options": {"expires": 6 * 3600},
    },
    "compliance-evidence-check": {
        "task": "compliance.evidence_check",  # expiry alerts, expired marking, stored files re-hashed
        "schedule": crontab(hour=5, minute=10),
        "options": {"expires": 6 * 3600},
    },
    "compliance-readiness-snapshot": {
        "task": "compliance.readiness_snapshot",
        "schedule": crontab(hour=5, minute=40),
        "options": {"expires": 6 * 3600},
    },
    "assessments-roadmap-check": {
        "task": "assessments.roadmap_check",  # overdue roadmap items alert; portfolio maturity rollup refreshed
        "schedule": crontab(hour=6, minute=50),
        "options": {"expires": 6 * 3600},
    },
    "incidents-clock-watch": {
        "task": "incidents.clock_watch",
        "schedule": crontab(minute="*/5"),  # alerts before each regulatory notification deadline
        "options": {"expires": 4 * 60},
    },
    "anomalies-daily-scan": {
        "task": "anomalies.daily_scan",
        "schedule": crontab(hour=6, minute=30),
        "options": {"expires": 6 * 3600},
    },
    "shadow-ai-scan": {
        "task": "shadow_ai.scan",
        "schedule": crontab(hour=5, minute=50),
        "options": {"expires": 6 * 3600},
    },
    "recommendations-refresh": {
        "task": "recommendations.refresh",
        "schedule": crontab(hour=6, minute=10),
        "options": {"expires": 6 * 3600},
    },
    "core-prune-task-runs": {
        "task": "core.prune_task_runs",
        "schedule": crontab(hour=4, minute=0),
        "options": {"expires": 6 * 3600},
    },
}
