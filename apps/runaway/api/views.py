"""Runaway API: incidents (list, detail, resolve, call the kill-switch) and the detection settings.
Money is a decimal string, times ISO 8601 UTC; the signing secret is write-only."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap

from ..models import KillSwitchCall, RunawayIncident, RunawaySettings, ScopeKind
from ..selectors import STATUS_FILTERS, incidents_list
from ..services import (
    INCIDENT_PATH,
    SETTINGS_FIELDS,
    incident_resolve,
    incident_stop,
    runaway_settings,
    runaway_settings_save,
    signal_rows,
)


# Choice fields as plain strings with their values listed: Keel's OpenAPI keeps one enum component per name, and
# "status", "scope_kind", "trigger" and "outcome" are names other capabilities use with other values.
class KillSwitchCallSerializer(serializers.ModelSerializer):
    trigger = serializers.CharField(read_only=True, help_text="automatic (auto-stop) or manual.")
    outcome = serializers.CharField(read_only=True, help_text="stopped (the kill-switch answered 2xx) or failed.")

    class Meta:
        model = KillSwitchCall
        fields = [
            "id",
            "url",
            "trigger",
            "requested_by",
            "called_at",
            "signed",
            "status_code",
            "response_excerpt",
            "error",
            "duration_ms",
            "outcome",
        ]
        read_only_fields = fields


class SignalSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    text = serializers.CharField()
    first_fired_at = serializers.DateTimeField(allow_null=True)
    last_fired_at = serializers.DateTimeField(allow_null=True)
    fired_now = serializers.BooleanField()


class IncidentSerializer(serializers.ModelSerializer):
    scope_kind = serializers.CharField(read_only=True, help_text="agent, api_key or model.")
    status = serializers.CharField(
        read_only=True, help_text="open (burning), stopped (kill-switch answered), ended (quiet M minutes), resolved."
    )
    agent_name = serializers.CharField(source="agent.name", read_only=True, allow_null=True, default=None)
    alert_state = serializers.CharField(source="alert.state", read_only=True, allow_null=True, default=None)
    detection_delay_seconds = serializers.FloatField(read_only=True)
    kill_switch_outcome = serializers.CharField(read_only=True, allow_null=True, default=None)
    link = serializers.SerializerMethodField()

    class Meta:
        model = RunawayIncident
        fields = [
            "id",
            "scope_kind",
            "scope_key",
            "currency",
            "agent",
            "agent_name",
            "severity",
            "status",
            "started_at",
            "detected_at",
            "detection_delay_seconds",
            "last_seen_at",
            "stopped_at",
            "ended_at",
            "resolved_at",
            "resolved_by",
            "burned",
            "rate_per_minute",
            "peak_per_minute",
            "projected_24h",
            "baseline_10m",
            "threshold_10m",
            "threshold_per_minute",
            "requests",
            "alert",
            "alert_state",
            "kill_switch_outcome",
            "link",
        ]
        read_only_fields = fields

    def get_link(self, incident) -> str:
        return INCIDENT_PATH.format(pk=incident.pk)


class IncidentDetailSerializer(IncidentSerializer):
    signals = serializers.SerializerMethodField()
    kill_switch_calls = KillSwitchCallSerializer(many=True, read_only=True)
    resolution_note = serializers.CharField(read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "signals", "kill_switch_calls", "resolution_note"]
        read_only_fields = fields

    @extend_schema_field(SignalSerializer(many=True))
    def get_signals(self, incident) -> list[dict]:
        return SignalSerializer(signal_rows(incident), many=True).data


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class SettingsSerializer(serializers.ModelSerializer):
    kill_switch_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        min_length=16,
        help_text="Signs kill-switch calls (HMAC-SHA256). Write-only; blank keeps the current one.",
    )
    kill_switch_secret_set = serializers.SerializerMethodField()

    class Meta:
        model = RunawaySettings
        fields = [*SETTINGS_FIELDS, "kill_switch_secret", "kill_switch_secret_set", "updated_at"]
        read_only_fields = ["updated_at"]

    def get_kill_switch_secret_set(self, settings) -> bool:
        return bool(settings.kill_switch_secret)


INCIDENT_EXAMPLE = {
    "id": 12,
    "scope_kind": "agent",
    "scope_key": "underwriter-7",
    "currency": "USD",
    "agent": 7,
    "agent_name": "underwriter-7",
    "severity": "critical",
    "status": "stopped",
    "started_at": "2026-11-28T13:12:00Z",
    "detected_at": "2026-11-28T13:13:00Z",
    "detection_delay_seconds": 60.0,
    "last_seen_at": "2026-11-28T13:52:00Z",
    "stopped_at": "2026-11-28T13:13:00Z",
    "ended_at": None,
    "resolved_at": None,
    "resolved_by": "",
    "burned": "22.750000",
    "rate_per_minute": "22.750000",
    "peak_per_minute": "22.750000",
    "projected_24h": "32760.000000",
    "baseline_10m": "1.420000",
    "threshold_10m": "14.200000",
    "threshold_per_minute": "1.420000",
    "requests": 102,
    "alert": 31,
    "alert_state": "open",
    "kill_switch_outcome": "stopped",
    "link": "/finops/runaway/12/",
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(STATUS_FILTERS), description="Default: all."),
            OpenApiParameter("scope_kind", str, enum=list(ScopeKind.values)),
        ],
        examples=[OpenApiExample("An agent loop caught and stopped", value=[INCIDENT_EXAMPLE], response_only=True)],
    ),
)
class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Runaway incidents: one per agent, API key or model whose live usage ran away, newest first."""

    filter_backends: list = []
    action_capabilities = {"resolve": Cap.MANAGE_ALERTS, "stop": Cap.EDIT}

    def get_queryset(self):
        params = self.request.query_params
        incidents = incidents_list(status=params.get("status", "all"), kind=params.get("scope_kind", ""))
        if self.action != "list":
            incidents = incidents.prefetch_related("kill_switch_calls")
        return incidents

    def get_serializer_class(self):
        return IncidentSerializer if self.action == "list" else IncidentDetailSerializer

    @extend_schema(
        request=ResolveSerializer,
        responses={200: IncidentDetailSerializer},
        examples=[OpenApiExample("Resolve", value={"note": "Retry loop in the memo step; fixed."}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None, **kwargs):
        """Close the incident and its alert (needs the `alerts` scope or the manage-alerts permission)."""
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            incident = incident_resolve(incident=self.get_object(), note=body.validated_data.get("note", ""))
        except DjangoValidationError as exc:
            raise ValidationError({"status": exc.messages}) from exc
        return Response(IncidentDetailSerializer(self.get_queryset().get(pk=incident.pk)).data)

    @extend_schema(request=None, responses={200: KillSwitchCallSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None, **kwargs):
        """Call the agent's kill-switch now (signed POST); answers with the recorded call, failed or not."""
        try:
            call = incident_stop(incident=self.get_object())
        except DjangoValidationError as exc:
            raise ValidationError({"agent": exc.messages}) from exc
        return Response(KillSwitchCallSerializer(call).data)


SETTINGS_EXAMPLE = {
    "enabled": True,
    "baseline_multiplier": "10.00",
    "min_spend_10m": "10.000000",
    "max_spend_per_minute": "10.000000",
    "max_tokens_per_request": 200000,
    "repeat_threshold": 50,
    "request_rate_multiplier": "10.00",
    "min_requests_10m": 300,
    "quiet_minutes": 10,
    "auto_stop": True,
    "kill_switch_secret_set": True,
    "updated_at": "2026-11-28T09:00:00Z",
}


class SettingsView(APIView):
    """This client's runaway detection thresholds and auto-stop switch (PATCH needs the `write` scope)."""

    @extend_schema(responses={200: SettingsSerializer}, examples=[OpenApiExample("Defaults", value=SETTINGS_EXAMPLE)])
    def get(self, request):
        return Response(SettingsSerializer(runaway_settings()).data)

    @extend_schema(
        request=SettingsSerializer,
        responses={200: SettingsSerializer},
        examples=[
            OpenApiExample(
                "Turn on auto-stop, tighter ceiling",
                value={"auto_stop": True, "max_spend_per_minute": "5.00"},
                request_only=True,
            )
        ],
    )
    def patch(self, request):
        body = SettingsSerializer(runaway_settings(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            saved = runaway_settings_save(**body.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        return Response(SettingsSerializer(saved).data)
