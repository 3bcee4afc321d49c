from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import clients_for_user
from apps.accounts.roles import Cap
from apps.tenancy.selectors import clients_live

from . import health
from .models import AlertFeedItem, ClientRollup


class AlertFeedItemSerializer(serializers.ModelSerializer):
    client = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AlertFeedItem
        fields = [
            "id",
            "client",
            "alert_id",
            "kind",
            "severity",
            "subject",
            "state",
            "owner_email",
            "last_seen_at",
            "url",
        ]
        read_only_fields = fields


class AlertFeedViewSet(viewsets.ReadOnlyModelViewSet):
    """Active alerts across the clients you can see, worst first. Act on one at /c/{client}/api/v1/alerts/."""

    serializer_class = AlertFeedItemSerializer
    read_capability = Cap.CONSOLE
    filterset_fields = ["severity", "state", "kind"]

    def get_queryset(self):
        access = self.request._request.access
        clients = clients_for_user(access.user) if access.user is not None else clients_live()
        return AlertFeedItem.objects.filter(client__in=clients.values("id")).select_related("client")


# --- the portfolio summary ------------------------------------------------------------------------------------------


class PortfolioComponentSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=list(health.COMPONENTS))
    label = serializers.CharField()
    weight = serializers.IntegerField(help_text="0-100; 0 = switched off")
    score = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, help_text="Sub-score 0-100; null = not measured"
    )
    counted = serializers.BooleanField(help_text="Measured and weighted above 0: part of the health score")
    value = serializers.CharField(help_text="The measured value in words")


class PortfolioSpendSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="First day of the UTC month")
    currency = serializers.CharField(help_text="The whole-client budget's currency, else the reporting currency")
    spend = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True, help_text="Month to date")
    budget = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    percent_of_budget = serializers.DecimalField(max_digits=9, decimal_places=0, allow_null=True)
    forecast = serializers.DecimalField(
        max_digits=30, decimal_places=2, allow_null=True, help_text="Month-end forecast of the budget's scope"
    )
    other_currencies = serializers.ListField(child=serializers.CharField(), help_text="Also spent in (not converted)")


class PortfolioReportStatusSerializer(serializers.Serializer):
    month = serializers.DateField()
    status = serializers.ChoiceField(choices=ClientRollup.ReportStatus.choices)
    version = serializers.IntegerField(allow_null=True)
    issued_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class PortfolioHealthSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    band = serializers.ChoiceField(choices=list(health.BAND_KEYS))
    score_before = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        allow_null=True,
        help_text="The daily score 30 days ago (newer clients: 14, 7 or 1 day ago)",
    )
    score_before_day = serializers.DateField(allow_null=True)


class PortfolioClientSerializer(serializers.Serializer):
    client = serializers.CharField(help_text="The client's slug")
    client_name = serializers.CharField()
    lifecycle = serializers.CharField()
    health = PortfolioHealthSerializer()
    components = PortfolioComponentSerializer(many=True)
    open_critical = serializers.IntegerField(allow_null=True)
    spend = PortfolioSpendSerializer()
    last_report = PortfolioReportStatusSerializer(allow_null=True)
    refreshed_at = serializers.DateTimeField(allow_null=True, help_text="When the client's rollup was last written")


class PortfolioCurrencyTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    clients = serializers.IntegerField()
    spend = serializers.DecimalField(max_digits=30, decimal_places=2)
    budgeted_clients = serializers.IntegerField()
    spend_budgeted = serializers.DecimalField(max_digits=30, decimal_places=2)
    budget = serializers.DecimalField(max_digits=30, decimal_places=2)
    percent = serializers.DecimalField(max_digits=9, decimal_places=0, allow_null=True)
    over_budget = serializers.IntegerField()


class PortfolioSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    weights = serializers.DictField(child=serializers.IntegerField(), help_text="Component → weight 0-100")
    bands = serializers.DictField(child=serializers.IntegerField(), help_text="Band → number of clients")
    totals = PortfolioCurrencyTotalSerializer(many=True)
    clients = PortfolioClientSerializer(many=True)


SUMMARY_EXAMPLE = {
    "generated_at": "2026-11-27T14:00:00Z",
    "weights": dict(health.DEFAULT_WEIGHTS),
    "bands": {"healthy": 1, "watch": 0, "at-risk": 1, "unmeasured": 0},
    "totals": [
        {
            "currency": "USD",
            "clients": 2,
            "spend": "48210.00",
            "budgeted_clients": 2,
            "spend_budgeted": "48210.00",
            "budget": "52000.00",
            "percent": "93",
            "over_budget": 1,
        }
    ],
    "clients": [
        {
            "client": "acme",
            "client_name": "Acme Underwriting",
            "lifecycle": "active",
            "health": {"score": "52.5", "band": "at-risk", "score_before": "71.0", "score_before_day": "2026-10-28"},
            "components": [
                {
                    "key": "budget",
                    "label": "Budget variance",
                    "weight": 20,
                    "score": "40.0",
                    "counted": True,
                    "value": "forecast 15.0 % over budget",
                },
                {
                    "key": "alerts",
                    "label": "Open critical alerts",
                    "weight": 25,
                    "score": "75.0",
                    "counted": True,
                    "value": "1 open critical alert",
                },
                {
                    "key": "sla",
                    "label": "SLA attainment",
                    "weight": 20,
                    "score": "0.0",
                    "counted": True,
                    "value": "worst SLO 98.9 % vs 99.5 % target",
                },
                {
                    "key": "readiness",
                    "label": "Compliance readiness",
                    "weight": 15,
                    "score": "68.0",
                    "counted": True,
                    "value": "68.0 % ready",
                },
                {
                    "key": "maturity",
                    "label": "Maturity",
                    "weight": 10,
                    "score": None,
                    "counted": False,
                    "value": "not measured",
                },
                {
                    "key": "freshness",
                    "label": "Ingestion freshness",
                    "weight": 10,
                    "score": "100.0",
                    "counted": True,
                    "value": "last ingestion 3 h ago",
                },
            ],
            "open_critical": 1,
            "spend": {
                "month": "2026-11-01",
                "currency": "USD",
                "spend": "31210.00",
                "budget": "30000.00",
                "percent_of_budget": "104",
                "forecast": "34500.00",
                "other_currencies": [],
            },
            "last_report": {
                "month": "2026-10-01",
                "status": "issued",
                "version": 2,
                "issued_at": "2026-11-03T09:12:00Z",
                "url": "/c/acme/reports/",
            },
            "refreshed_at": "2026-11-27T13:07:02Z",
        }
    ],
}


def _client_payload(row) -> dict:
    rollup = row.rollup
    report = None
    if rollup is not None and rollup.report_status:
        report = {
            "month": rollup.report_month,
            "status": rollup.report_status,
            "version": rollup.report_version,
            "issued_at": rollup.report_issued_at,
            "url": row.report_url,
        }
    return {
        "client": row.client.slug,
        "client_name": row.client.name,
        "lifecycle": row.client.lifecycle,
        "health": {
            "score": row.health.score,
            "band": row.health.band,
            "score_before": row.health_before,
            "score_before_day": row.health_before_day,
        },
        "components": [
            {
                "key": p.key,
                "label": p.label,
                "weight": p.weight,
                "score": p.score,
                "counted": p.counted,
                "value": p.value,
            }
            for p in row.health.parts
        ],
        "open_critical": rollup.open_critical if rollup is not None and rollup.refreshed_at else None,
        "spend": {
            "month": row.month,
            "currency": row.spend_currency,
            "spend": row.spend,
            "budget": row.budget,
            "percent_of_budget": row.budget_percent,
            "forecast": row.budget_forecast,
            "other_currencies": row.spend_other_currencies,
        },
        "last_report": report,
        "refreshed_at": rollup.refreshed_at if rollup is not None else None,
    }


class PortfolioSummaryView(APIView):
    """Every client you can see with its health score (weighted components), spend this month vs budget and
    last monthly report, worst health first, read from the public-schema rollups. MSP-level keys see every
    live client; staff see the clients they are assigned to (MSP admins: all). Same filters as the console."""

    read_capability = Cap.CONSOLE
    write_capability = Cap.CONSOLE

    @extend_schema(
        operation_id="portfolio_summary",
        parameters=[
            OpenApiParameter(
                "sort",
                str,
                description="health (default, worst first), -health, name, spend, budget, "
                "alerts, sla, readiness, maturity, freshness, report; `-` reverses",
            ),
            OpenApiParameter("q", str, description="Text in the client's name or slug"),
            OpenApiParameter("lifecycle", str, enum=["onboarding", "active"]),
            OpenApiParameter("band", str, enum=list(health.BAND_KEYS)),
        ],
        responses=PortfolioSummarySerializer,
        examples=[OpenApiExample("Two clients, one at risk", value=SUMMARY_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        from .selectors import clean_options, portfolio_grid, spend_totals
        from .services import weights_get

        access = request._request.access
        clients = clients_for_user(access.user) if access.user is not None else clients_live()
        options = clean_options(request.query_params)
        grid = portfolio_grid(clients, **options)
        data = {
            "generated_at": timezone.now(),
            "weights": weights_get().as_dict(),
            "bands": grid.counts,
            "totals": spend_totals(grid.rows),
            "clients": [_client_payload(row) for row in grid.rows],
        }
        return Response(PortfolioSummarySerializer(data).data)
