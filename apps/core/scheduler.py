from tenant_schemas_celery.scheduler import TenantAwarePersistentScheduler


class KeelScheduler(TenantAwarePersistentScheduler):
    """Celery beat: per-client entries go to live clients only (not the template, not offboarded ones)."""

    @classmethod
    def get_queryset(cls):
        from apps.tenancy.selectors import schedulable_clients

        return schedulable_clients()
