"""FinOps API: billing sources (with test and run), ingestion runs, FOCUS uploads, cost records, explorer.

Money is always a decimal string, times ISO 8601 UTC. Secrets are write-only: no response ever carries them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.errors import PROBLEM_CONTENT_TYPE, problem_body

from ..connectors import connector_for
from ..focus import LEDGER_FIELDS
from ..ledger import DEFAULTABLE_FIELDS, LedgerError
from ..models import BillingSource, CostRecord, IngestionRun, SourceKind
from ..selectors import (
    ALLOCATION_DIMENSIONS,
    EXPLORER_ALL_DIMENSIONS,
    EXPLORER_DIMENSIONS,
    ExplorerQuery,
    cost_explorer,
    runs_list,
    sources_list,
)
from ..services import (
    billing_source_delete,
    billing_source_save,
    billing_source_test,
    focus_upload_commit,
    focus_upload_preview,
)
from ..uploads import SizeLimitHandler, announced_too_big, upload_max_bytes

TRUE = {"1", "true", "yes", "on"}
USER_KINDS = [k for k in SourceKind.values if k not in (SourceKind.FOCUS_UPLOAD, SourceKind.USAGE_EVENTS)]


# --- serializers -----------------------------------------------------------------------------------------


class BillingSourceSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=USER_KINDS, help_text="Fixed once the source exists.")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        write_only=True,
        required=False,
        help_text="The connector's secret fields (see `GET billing-sources/kinds`). Never returned; on an update, "
        "omitted or blank fields keep the stored value.",
    )
    latest_run_status = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = BillingSource
        fields = [
            "id",
            "name",
            "kind",
            "settings",
            "secrets",
            "credentials_hint",
            "enabled",
            "interval_minutes",
            "lookback_days",
            "backfill_days",
            "status",
            "status_message",
            "last_run_at",
            "last_success_at",
            "next_run_at",
            "consecutive_failures",
            "last_tested_at",
            "last_test_ok",
            "last_test_message",
            "latest_run_status",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "credentials_hint",
            "status",
            "status_message",
            "last_run_at",
            "last_success_at",
            "next_run_at",
            "consecutive_failures",
            "last_tested_at",
            "last_test_ok",
            "last_test_message",
            "created_at",
        ]
        extra_kwargs = {name: {"required": False} for name in ("interval_minutes", "lookback_days", "backfill_days")}


class IngestionRunSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = IngestionRun
        fields = [
            "id",
            "source",
            "source_name",
            "trigger",
            "status",
            "window_start",
            "window_end",
            "started_at",
            "finished_at",
            "rows_loaded",
            "rows_replaced",
            "totals",
            "attempt",
            "error",
            "error_kind",
            "details",
            "started_by",
        ]
        read_only_fields = fields


class CostRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostRecord
        fields = ["id", "source", "run", *LEDGER_FIELDS, "department", "asset", "allocation_rule", "allocated_by"]
        read_only_fields = fields


class ConnectionResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class FocusUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="FOCUS 1.0–1.3 as CSV, CSV.gz or Parquet.")
    filename = serializers.CharField(required=False, allow_blank=True)
    billing_currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    provider_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    service_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    billing_account_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    invoice_issuer_name = serializers.CharField(required=False, allow_blank=True, max_length=120)


SOURCE_EXAMPLE = {
    "name": "Acme AWS payer",
    "kind": "aws_cost_explorer",
    "settings": {"region": "us-east-1"},
    "secrets": {"access_key_id": "AKIA…", "secret_access_key": "…"},
    "interval_minutes": 360,
}
UPLOAD_PREVIEW_EXAMPLE = {
    "dry_run": True,
    "rows": 1000,
    "replaced_rows": 0,
    "totals": {
        "USD": {"rows": 1000, "billed_cost": "20.52", "effective_cost": "14.98", "list_cost": "20.39"},
    },
    "periods": ["2024-09"],
    "file": {"format": "csv", "delimiter": ",", "version": "1.0", "missing": [], "extensions": ["Id"]},
}


# --- views ------------------------------------------------------------------------------------------------


def _too_large(limit: int) -> str:
    return (
        f"The upload is larger than the limit of {limit // (1024 * 1024):,} MB for one file. Split it by billing "
        "period or account (each file replaces only what it contains), or compress it with gzip."
    )


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is larger than this endpoint accepts."


@extend_schema_view(
    create=extend_schema(examples=[OpenApiExample("AWS Cost Explorer", value=SOURCE_EXAMPLE, request_only=True)]),
)
class BillingSourceViewSet(viewsets.ModelViewSet):
    """Where this client's costs come from. Secrets are encrypted at rest and never returned."""

    serializer_class = BillingSourceSerializer
    filterset_fields = ["kind", "enabled", "status"]
    action_capabilities = {"test": Cap.EDIT, "run": Cap.EDIT}

    def get_queryset(self):
        return sources_list()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        secrets = data.pop("secrets", None)
        serializer.instance = billing_source_save(kind=data.pop("kind"), secrets=secrets, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        secrets = data.pop("secrets", None)
        kind = data.pop("kind", None)
        serializer.instance = billing_source_save(source=serializer.instance, kind=kind, secrets=secrets, **data)

    def perform_destroy(self, instance):
        billing_source_delete(source=instance)

    @extend_schema(request=None, responses={200: ConnectionResultSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None, **kwargs):
        """Ask the provider whether the stored credentials and settings work."""
        result = billing_source_test(source=self.get_object())
        return Response({"ok": result.ok, "message": result.message})

    @extend_schema(request=None, responses={202: OpenApiResponse(description="Queued.")})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None, **kwargs):
        """Pull this source now (queued; one run per source at a time)."""
        from ..tasks import ingest_source_task

        source = self.get_object()
        if not source.is_pull:
            raise ValidationError({"source": "Upload sources are booked when a file is uploaded; nothing to run."})
        if not source.enabled:
            raise ValidationError({"enabled": "The source is disabled: enable it before running it."})
        ingest_source_task.delay(source.pk, IngestionRun.Trigger.MANUAL)
        return Response({"queued": True, "source": source.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: IngestionRunSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None, **kwargs):
        """This source's runs, newest first."""
        page = self.paginate_queryset(runs_list(source=self.get_object()))
        return self.get_paginated_response(IngestionRunSerializer(page, many=True).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def kinds(self, request, **kwargs):
        """Every source kind with its settings and secret fields (what a create needs)."""

        def spec(field):
            return {"name": field.name, "label": field.label, "help": field.help, "required": field.required}

        return Response(
            [
                {
                    "kind": kind,
                    "label": SourceKind(kind).label,
                    "settings": [spec(f) for f in connector_for(kind).settings_fields],
                    "secrets": [spec(f) for f in connector_for(kind).secret_fields],
                }
                for kind in USER_KINDS
            ]
        )


class IngestionRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Every pull and upload: window, rows, totals per currency, status and the error in plain words."""

    serializer_class = IngestionRunSerializer
    filterset_fields = ["source", "status", "trigger"]

    def get_queryset(self):
        return runs_list()


def _period_filter(params) -> Q:
    condition = Q()
    for name, lookup in (("from", "charge_period_start__gte"), ("to", "charge_period_start__lt")):
        value = params.get(name, "").strip()
        if value:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError as exc:
                raise ValidationError({name: "Use a date, YYYY-MM-DD."}) from exc
            condition &= Q(**{lookup: dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)})
    return condition


DIMENSION_PARAMETERS = [
    OpenApiParameter(name, str, description=f"{label}, exact.") for name, (label, _c) in (EXPLORER_DIMENSIONS.items())
]
PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC charge day (inclusive)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last UTC charge day (exclusive)."),
    OpenApiParameter("tag", str, description="`key` or `key=value`."),
]


def _dimension_filters(params) -> dict[str, str]:
    return {name: params[name] for name in EXPLORER_DIMENSIONS if params.get(name, "") != ""}


def _tag(params) -> tuple[str, str]:
    key, _, value = params.get("tag", "").partition("=")
    return key.strip(), value.strip()


@extend_schema_view(list=extend_schema(parameters=[*PERIOD_PARAMETERS, *DIMENSION_PARAMETERS]))
class CostRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The FOCUS ledger, row by row (cursor-paginated). Money as decimal strings, times in UTC."""

    serializer_class = CostRecordSerializer

    def get_queryset(self):
        records = CostRecord.objects.all()
        if self.action != "list":
            return records
        params = self.request.query_params
        records = records.filter(_period_filter(params))
        for name, value in _dimension_filters(params).items():
            records = records.filter(**{EXPLORER_DIMENSIONS[name][1]: value})
        key, value = _tag(params)
        if key:
            records = records.filter(tags__contains={key: value}) if value else records.filter(tags__has_key=key)
        return records


class CostExplorerView(APIView):
    """Totals by group and by day or month for a period, filtered like the ledger; exact decimal strings.

    Read from the daily rollup, or from the ledger when the query filters or groups by a tag (`read_from`).
    Departments and assets count shared costs at each share."""

    read_capability = Cap.VIEW

    @extend_schema(
        operation_id="cost_explorer",
        parameters=[
            *PERIOD_PARAMETERS,
            *DIMENSION_PARAMETERS,
            *[
                OpenApiParameter(name, int, description=f"{label} id.")
                for name, (label, _c) in ALLOCATION_DIMENSIONS.items()
            ],
            OpenApiParameter(
                "group",
                str,
                description="A dimension (also `department`, `asset`, `rule`), or `tag:<key>`. Default `service`.",
            ),
            OpenApiParameter("measure", str, enum=["effective_cost", "billed_cost", "list_cost", "contracted_cost"]),
            OpenApiParameter("granularity", str, enum=["day", "month"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample(
                "By service",
                value={
                    "from": "2026-11-01",
                    "to": "2026-12-01",
                    "group": "service",
                    "measure": "effective_cost",
                    "totals": {"USD": "48211.730000000000"},
                    "groups": [{"key": "Amazon Bedrock", "currency": "USD", "amount": "4210.5", "rows": 310}],
                    "series": [
                        {
                            "period": "2026-11-01T00:00:00Z",
                            "key": "Amazon Bedrock",
                            "currency": "USD",
                            "amount": "140.2",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = request.query_params
        today = timezone.now().astimezone(dt.UTC).date()
        try:
            start = dt.date.fromisoformat(params.get("from") or today.replace(day=1).isoformat())
            end = dt.date.fromisoformat(params.get("to") or (today + dt.timedelta(days=1)).isoformat())
        except ValueError as exc:
            raise ValidationError({"from": "Use dates, YYYY-MM-DD."}) from exc
        if end <= start:
            raise ValidationError({"to": "`to` must be after `from`."})
        group = params.get("group", "service")
        if group not in EXPLORER_ALL_DIMENSIONS and not group.startswith("tag:"):
            raise ValidationError({"group": f"One of {', '.join(EXPLORER_ALL_DIMENSIONS)} or tag:<key>."})
        filters = _dimension_filters(params)
        for name in ALLOCATION_DIMENSIONS:
            if params.get(name, "") != "":
                if not params[name].isdigit():
                    raise ValidationError({name: "An id."})
                filters[name] = params[name]
        key, value = _tag(params)
        query = ExplorerQuery(
            start=start,
            end=end,
            filters=filters,
            tag_key=key,
            tag_value=value,
            group_by=group,
            measure=params.get("measure", "effective_cost"),
            granularity="month" if params.get("granularity") == "month" else "day",
        )
        result = cost_explorer(query)
        return Response(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "group": query.group_by,
                "measure": query.measure,
                "granularity": query.granularity,
                "row_count": result.row_count,
                "read_from": result.read_from,
                "totals": {currency: str(amount) for currency, amount in result.totals.items()},
                "groups": [{**g, "amount": str(g["amount"])} for g in result.groups],
                "series": [
                    {**p, "period": p["period"].isoformat().replace("+00:00", "Z"), "amount": str(p["amount"])}
                    for p in result.series
                ],
            }
        )


class FocusUploadView(APIView):
    """Upload a FOCUS file. `?dry_run=true` answers with the preview and books nothing; otherwise the file
    is booked (replacing the billing periods it covers) and the run is returned."""

    parser_classes = [MultiPartParser, FormParser]
    write_capability = Cap.EDIT
    serializer_class = FocusUploadSerializer  # for the schema generator; post() validates with it too

    @extend_schema(
        operation_id="focus_upload",
        request={"multipart/form-data": FocusUploadSerializer},
        parameters=[OpenApiParameter("dry_run", bool, description="Preview only; nothing is written.")],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Dry run: the preview."),
            201: OpenApiResponse(IngestionRunSerializer, description="Booked: the run."),
            400: OpenApiResponse(description="problem+json: the file cannot be booked; nothing was written."),
            413: OpenApiResponse(description="problem+json: the file is too large."),
        },
        examples=[OpenApiExample("Preview", value=UPLOAD_PREVIEW_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def initial(self, request, *args, **kwargs):
        # Before authentication: a session's CSRF check would otherwise read (and spool) the whole body first.
        limit = upload_max_bytes()
        if announced_too_big(request, limit):
            raise TooLarge(_too_large(limit))
        self.size_limit = SizeLimitHandler(request._request, limit)
        request._request.upload_handlers.insert(0, self.size_limit)  # also stops a chunked body mid-stream
        super().initial(request, *args, **kwargs)

    def post(self, request):
        limit = upload_max_bytes()
        body = FocusUploadSerializer(data=request.data)
        if self.size_limit.exceeded:
            raise TooLarge(_too_large(limit))
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > limit:
            raise TooLarge(_too_large(limit))
        defaults = {k: body.validated_data.get(k, "") for k in DEFAULTABLE_FIELDS if body.validated_data.get(k)}
        filename = (body.validated_data.get("filename") or upload.name or "upload")[:200]
        with tempfile.TemporaryDirectory(prefix="keel-focus-") as folder:
            path = Path(folder) / "upload"
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                if request.query_params.get("dry_run", "").lower() in TRUE:
                    result = focus_upload_preview(path=path, defaults=defaults)
                    public = {k: v for k, v in result.file.items() if not k.startswith("_")}
                    return Response(
                        {
                            "dry_run": True,
                            "rows": result.rows_loaded,
                            "replaced_rows": result.rows_replaced,
                            "totals": result.totals,
                            "periods": result.periods,
                            "file": public,
                        }
                    )
                run = focus_upload_commit(path=path, filename=filename, defaults=defaults)
            except LedgerError as exc:
                problem = Response(
                    problem_body(400, "File cannot be booked", str(exc)), status=status.HTTP_400_BAD_REQUEST
                )
                problem.content_type = PROBLEM_CONTENT_TYPE
                return problem
        return Response(IngestionRunSerializer(run).data, status=status.HTTP_201_CREATED)
