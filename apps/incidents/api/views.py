"""The AI incident register over the API: incidents (create, read, change; never delete), each incident's
timeline and obligations with their clocks, the submit / not-required / reopen actions, and the regimes file.
Times are ISO 8601 in UTC; each due time is also given in the client's time zone (`due_at_local`)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.alerts.models import Alert, Severity
from apps.inventory.models import Asset

from ..models import AIIncident, IncidentEvent, IncidentKind, Obligation, SourceKind
from ..regimes import load_regimes
from ..selectors import STATUS_FILTERS, client_zone, clock_for, incidents_list
from ..services import (
    incident_fields,
    incident_save,
    obligation_mark_not_required,
    obligation_reopen,
    obligation_submit,
)

CLOCK_STATES = [
    "waiting",
    "running",
    "due_soon",
    "overdue",
    "soft",
    "on_request",
    "record",
    "submitted",
    "not_required",
]


class ObligationSerializer(serializers.ModelSerializer):
    regime_name = serializers.SerializerMethodField()
    report_name = serializers.SerializerMethodField()
    recipient = serializers.SerializerMethodField()
    kind = serializers.SerializerMethodField(help_text="report, or record (a record the organisation keeps)")
    due_at_local = serializers.SerializerMethodField(help_text="due_at in the client's time zone, with its offset")
    state = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField(help_text='e.g. "due in 5 h 12 min", "overdue by 2 h"')

    class Meta:
        model = Obligation
        fields = [
            "id",
            "regime",
            "regime_name",
            "report",
            "report_name",
            "recipient",
            "kind",
            "t0_event",
            "t0_at",
            "due_kind",
            "due_at",
            "due_at_local",
            "base_due_at",
            "due_estimated",
            "due_capped",
            "keep_until",
            "status",
            "state",
            "label",
            "not_required_reason",
            "submitted_at",
            "first_submitted_at",
            "submissions",
            "reference",
            "submitted_by",
            "submission_note",
        ]
        read_only_fields = fields

    def _clock(self, obligation):
        cache = self.context.setdefault("clocks", {})
        if obligation.pk not in cache:
            cache[obligation.pk] = clock_for(obligation, now=self.context.setdefault("now", timezone.now()))
        return cache[obligation.pk]

    def get_regime_name(self, obj) -> str:
        return self._clock(obj).regime_name

    def get_report_name(self, obj) -> str:
        return self._clock(obj).report_name

    def get_recipient(self, obj) -> str:
        report = self._clock(obj).report
        return report.recipient if report else ""

    def get_kind(self, obj) -> str:
        report = self._clock(obj).report
        return report.kind if report else "report"

    def get_due_at_local(self, obj) -> str | None:
        if obj.due_at is None:
            return None
        zone = self.context.setdefault("zone", client_zone())
        return obj.due_at.astimezone(zone).isoformat()

    @extend_schema_field(serializers.ChoiceField(choices=CLOCK_STATES))
    def get_state(self, obj) -> str:
        return self._clock(obj).state

    def get_label(self, obj) -> str:
        return self._clock(obj).label


class IncidentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentEvent
        fields = ["id", "at", "kind", "text", "actor", "data"]
        read_only_fields = fields


class AIIncidentSerializer(serializers.ModelSerializer):
    assets = serializers.PrimaryKeyRelatedField(
        queryset=Asset.objects.all(), many=True, required=False, help_text="Ids of the affected AI assets."
    )
    regimes = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Regime ids that apply (GET /incident-regimes/)."
    )
    flags = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Facts that switch reports on (see the regimes)."
    )
    personal_data_categories = serializers.ListField(child=serializers.CharField(max_length=80), required=False)
    source_kind = serializers.ChoiceField(
        choices=[SourceKind.MANUAL, SourceKind.ALERT],
        required=False,
        help_text="manual, or alert with source_id. Runaway incidents and anomalies open theirs from their pages.",
    )
    obligations = ObligationSerializer(many=True, read_only=True)
    reference = serializers.CharField(read_only=True)

    class Meta:
        model = AIIncident
        fields = [
            "id",
            "reference",
            "title",
            "kind",
            "severity",
            "status",
            "assets",
            "occurred_at",
            "detected_at",
            "aware_at",
            "classified_major_at",
            "breach_determined_at",
            "personal_data",
            "personal_data_categories",
            "people_affected",
            "description",
            "root_cause",
            "remediation",
            "lessons_learned",
            "owner_email",
            "source_kind",
            "source_id",
            "source_label",
            "regimes",
            "flags",
            "obligations",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = ["id", "reference", "source_label", "obligations", "created_at", "updated_at", "closed_at"]
        validators = []  # one incident per source is the service's and the database's concern

    def validate(self, attrs):
        if self.instance is not None and ("source_kind" in attrs or "source_id" in attrs):
            raise serializers.ValidationError({"source_kind": "The source of an incident is set when it is created."})
        alert_id = attrs.get("source_id") or 0
        if attrs.get("source_kind") == SourceKind.ALERT and not Alert.objects.filter(pk=alert_id).exists():
            raise serializers.ValidationError({"source_id": "No alert with this id."})
        return attrs


class SubmitSerializer(serializers.Serializer):
    submitted_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class NotRequiredSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReopenSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


INCIDENT_EXAMPLE = {
    "title": "Claims assistant told a customer a wrong payout rule",
    "kind": "hallucination_harm",
    "severity": "high",
    "detected_at": "2026-12-01T14:05:00Z",
    "aware_at": "2026-12-01T15:30:00Z",
    "assets": [4],
    "regimes": ["eu-ai-act-art73"],
    "owner_email": "risk@harbor.example",
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(STATUS_FILTERS), description="Default: all."),
            OpenApiParameter("kind", str, enum=list(IncidentKind.values)),
            OpenApiParameter("severity", str, enum=list(Severity.values)),
            OpenApiParameter("regime", str, description="A regime id, e.g. dora-art19."),
            OpenApiParameter("q", str, description="Search in title, description and source."),
        ]
    ),
    create=extend_schema(examples=[OpenApiExample("A hallucination under the AI Act", value=INCIDENT_EXAMPLE)]),
)
class AIIncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """AI incidents of this client with their notification obligations and clocks. Writes are audited and
    recompute the clocks; incidents are never deleted (close them)."""

    serializer_class = AIIncidentSerializer
    filter_backends: list = []
    read_capability = (Cap.VIEW, Cap.VIEW_REGISTER)  # auditors read the incident register too

    def get_queryset(self):
        params = self.request.query_params
        status = params.get("status", "all")
        if status not in STATUS_FILTERS:
            status = "all"
        return incidents_list(
            status=status,
            kind=params.get("kind", ""),
            severity=params.get("severity", ""),
            regime=params.get("regime", ""),
            q=(params.get("q") or "")[:100],
        )

    def _reload(self, incident):
        return incidents_list().get(pk=incident.pk)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        incident = incident_save(**data)
        serializer.instance = self._reload(incident)

    def perform_update(self, serializer):
        incident = serializer.instance
        data = {**incident_fields(incident), **serializer.validated_data}
        if self.request.method == "PUT":
            data.setdefault("assets", serializer.validated_data.get("assets", []))
        incident = incident_save(incident=incident, **data)
        serializer.instance = self._reload(incident)

    @extend_schema(responses={200: IncidentEventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request, pk=None, **kwargs):
        """The incident's timeline, oldest first (append-only)."""
        incident = self.get_object()
        return Response(IncidentEventSerializer(incident.events.order_by("at", "id"), many=True).data)

    @extend_schema(responses={200: ObligationSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def obligations(self, request, pk=None, **kwargs):
        """The reports the incident owes under the regimes that apply, with their clocks."""
        incident = self.get_object()
        return Response(ObligationSerializer(incident.obligations.all(), many=True).data)

    def _obligation(self, obligation_id) -> Obligation:
        incident = self.get_object()
        found = next((o for o in incident.obligations.all() if str(o.pk) == str(obligation_id)), None)
        if found is None:
            raise NotFound("No such obligation for this incident.")
        return found

    def _answer(self, obligation):
        return Response(ObligationSerializer(Obligation.objects.get(pk=obligation.pk)).data)

    @extend_schema(
        request=SubmitSerializer,
        responses={200: ObligationSerializer},
        examples=[
            OpenApiExample("Submitted", value={"submitted_at": "2026-12-02T09:10:00Z", "reference": "BaFin-2026-4411"})
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"obligations/(?P<obligation_id>\d+)/submit")
    def submit(self, request, pk=None, obligation_id=None, **kwargs):
        """Record a submission (or an update of a repeatable report); the next report's clock may start."""
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        obligation = obligation_submit(obligation=self._obligation(obligation_id), **body.validated_data)
        return self._answer(obligation)

    @extend_schema(request=NotRequiredSerializer, responses={200: ObligationSerializer})
    @action(detail=True, methods=["post"], url_path=r"obligations/(?P<obligation_id>\d+)/not-required")
    def not_required(self, request, pk=None, obligation_id=None, **kwargs):
        """Mark a pending report not required, with the reason; it stops alerting."""
        body = NotRequiredSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        obligation = obligation_mark_not_required(obligation=self._obligation(obligation_id), **body.validated_data)
        return self._answer(obligation)

    @extend_schema(request=ReopenSerializer, responses={200: ObligationSerializer})
    @action(detail=True, methods=["post"], url_path=r"obligations/(?P<obligation_id>\d+)/reopen")
    def reopen(self, request, pk=None, obligation_id=None, **kwargs):
        """Back to pending (a report the authority asked for after all, or a submission recorded by mistake)."""
        body = ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        obligation = obligation_reopen(obligation=self._obligation(obligation_id), **body.validated_data)
        return self._answer(obligation)


def _duration(duration) -> str | None:
    return duration.text if duration else None


def regime_payload(regime) -> dict:
    return {
        "id": regime.id,
        "name": regime.name,
        "short_name": regime.short_name,
        "act": regime.act,
        "source_url": regime.source_url,
        "applies_to": regime.applies_to,
        "trigger": regime.trigger,
        "frameworks": list(regime.frameworks),
        "notes": regime.notes,
        "verify": regime.verify,
        "reports": [
            {
                "id": r.id,
                "name": r.name,
                "recipient": r.recipient,
                "kind": r.kind,
                "t0": r.t0,
                "deadline": _duration(r.deadline.duration) or r.deadline.kind,
                "cap": {"t0": r.cap.t0, "deadline": r.cap.deadline.text} if r.cap else None,
                "group": r.group or None,
                "when": list(r.when),
                "conditions": r.conditions,
                "notes": r.notes,
                "source": r.source,
                "weekend_rule": r.weekend_rule or None,
                "weekend_rule_listed_entities": r.weekend_rule_listed_entities,
                "repeatable": r.repeatable,
                "retention": _duration(r.retention),
                "verify": r.verify,
            }
            for r in regime.reports
        ],
    }


class ReportRuleSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    recipient = serializers.CharField()
    kind = serializers.ChoiceField(choices=["report", "record"])
    t0 = serializers.CharField(help_text="awareness, classification_as_major, determination_of_breach, report:<id>")
    deadline = serializers.CharField(help_text="ISO 8601 duration, or as_soon_as_feasible / without_undue_delay")
    cap = serializers.DictField(allow_null=True)
    group = serializers.CharField(allow_null=True)
    when = serializers.ListField(child=serializers.CharField())
    conditions = serializers.CharField()
    notes = serializers.CharField()
    source = serializers.CharField()
    weekend_rule = serializers.CharField(allow_null=True)
    weekend_rule_listed_entities = serializers.BooleanField()
    repeatable = serializers.BooleanField()
    retention = serializers.CharField(allow_null=True)
    verify = serializers.BooleanField()


class RegimeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    act = serializers.CharField()
    source_url = serializers.URLField()
    applies_to = serializers.CharField()
    trigger = serializers.CharField()
    frameworks = serializers.ListField(child=serializers.CharField())
    notes = serializers.CharField()
    verify = serializers.BooleanField()
    reports = ReportRuleSerializer(many=True)


class RegimeViewSet(viewsets.ViewSet):
    """The notification regimes Keel knows (read only; they ship as a data file)."""

    pagination_class = None
    read_capability = (Cap.VIEW, Cap.VIEW_REGISTER)

    @extend_schema(responses={200: RegimeSerializer(many=True)})
    def list(self, request, **kwargs):
        return Response([regime_payload(r) for r in load_regimes().regimes])

    @extend_schema(
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, description="e.g. dora-art19")],
        responses={200: RegimeSerializer},
    )
    def retrieve(self, request, pk=None, **kwargs):
        regime = load_regimes().get(pk or "")
        if regime is None:
            raise NotFound("No such regime.")
        return Response(regime_payload(regime))
