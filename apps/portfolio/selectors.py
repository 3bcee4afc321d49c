import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.access import clients_for_user

from .models import AlertFeedItem, ClientSpendMonth


def console_clients(*, user):
    """The console grid: the user's clients with their rollup, worst first. Two queries whatever the count."""
    clients = list(clients_for_user(user).select_related("rollup"))

    def badness(client):
        rollup = getattr(client, "rollup", None)
        if rollup is None:
            return (0, 0, 0, client.name)
        return (-rollup.open_critical, -rollup.open_high, -rollup.open_alerts, client.name)

    _attach_spend(clients)
    return sorted(clients, key=badness)


def _attach_spend(clients: list) -> None:
    """This month's and last month's spend (UTC months) in each client's reporting currency, in one query.
    Spend in other currencies is not converted; the console says so."""
    this_month = timezone.now().date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    months: dict[tuple[int, dt.date], list[ClientSpendMonth]] = {}
    for row in ClientSpendMonth.objects.filter(client__in=clients, month__in=[this_month, last_month]):
        months.setdefault((row.client_id, row.month), []).append(row)
    for client in clients:
        current = months.get((client.pk, this_month), [])
        previous = months.get((client.pk, last_month), [])
        same = [r for r in current if r.currency == client.reporting_currency]
        client.spend_this_month = same[0] if same else None
        client.spend_other_currencies = sorted({r.currency for r in current if r.currency != client.reporting_currency})
        before = [r for r in previous if r.currency == client.reporting_currency]
        client.spend_last_month = before[0] if before else None


def console_alert_feed(*, user, limit: int = 30) -> QuerySet[AlertFeedItem]:
    client_ids = clients_for_user(user).values("id")
    return (
        AlertFeedItem.objects.filter(client_id__in=client_ids)
        .select_related("client")
        .order_by("severity_rank", "-last_seen_at")[:limit]
    )
