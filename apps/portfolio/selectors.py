from django.db.models import QuerySet

from apps.accounts.access import clients_for_user

from .models import AlertFeedItem


def console_clients(*, user):
    """The console grid: the user's clients with their rollup, worst first. Two queries whatever the count."""
    clients = list(clients_for_user(user).select_related("rollup"))

    def badness(client):
        rollup = getattr(client, "rollup", None)
        if rollup is None:
            return (0, 0, 0, client.name)
        return (-rollup.open_critical, -rollup.open_high, -rollup.open_alerts, client.name)

    return sorted(clients, key=badness)


def console_alert_feed(*, user, limit: int = 30) -> QuerySet[AlertFeedItem]:
    client_ids = clients_for_user(user).values("id")
    return (
        AlertFeedItem.objects.filter(client_id__in=client_ids)
        .select_related("client")
        .order_by("severity_rank", "-last_seen_at")[:limit]
    )
