"""Usage-events API (POST /usage-events): agents and gateways push token usage in batches.

The view stays thin: the body is parsed with Decimal numbers (money never passes through float) and handed to
apps.finops.usage.usage_events_ingest, which validates every event in plain Python."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.urls import re_path
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.errors import ProblemSerializer, batch_post, problem_body
from apps.core.batch import MAX_ERRORS

from ..usage import MAX_EVENTS, BatchTooLarge, usage_events_ingest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class DecimalJSONParser(BaseParser):
    """JSON with every non-integer number as a Decimal: a cost of 0.1 stays exactly 0.1."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF reads the stream itself, so Django's request-size limit is applied here (a 413 problem).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


# --- schema ----------------------------------------------------------------------------------------------

_TOKENS = {"type": "integer", "minimum": 0, "maximum": 10**12}
_EVENT_SCHEMA = {
    "type": "object",
    "description": "One model call. Native names or OpenTelemetry GenAI attribute names (native win when both "
    "are given). Keys not listed here are kept in the event's attributes (at most 4,096 characters of JSON).",
    "properties": {
        "timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset. Required."},
        "request_id": {"type": "string", "maxLength": 200, "description": "Idempotency key. Required."},
        "model": {"type": "string", "maxLength": 200, "description": "Model id as the provider names it. Required."},
        "provider": {
            "type": "string",
            "maxLength": 60,
            "description": "openai, anthropic, azure, bedrock, vertex_ai, gemini… (people's spellings and the "
            "OpenTelemetry values are understood). Inferred from the model when absent.",
        },
        "input_tokens": {**_TOKENS, "description": "Prompt tokens, cached ones included."},
        "output_tokens": _TOKENS,
        "cached_tokens": {**_TOKENS, "description": "Prompt tokens read from the provider's cache (≤ input_tokens)."},
        "agent": {"type": "string", "maxLength": 200},
        "api_key_id": {"type": "string", "maxLength": 200, "description": "The provider API key that was used."},
        "department": {"type": "string", "maxLength": 120},
        "prompt_hash": {"type": "string", "maxLength": 128, "description": "For loop detection."},
        "cost": {
            "oneOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
            "description": "The caller's own cost of the call; when given the event's cost is actual, "
            "otherwise it is priced from the model catalog (USD).",
        },
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "With cost; default USD."},
        "attributes": {"type": "object", "additionalProperties": True, "description": "Anything else to keep."},
        "gen_ai.request.model": {"type": "string", "description": "= model (when gen_ai.response.model is absent)."},
        "gen_ai.response.model": {"type": "string", "description": "= model."},
        "gen_ai.provider.name": {"type": "string", "description": "= provider."},
        "gen_ai.system": {"type": "string", "description": "= provider (deprecated OpenTelemetry name)."},
        "gen_ai.usage.input_tokens": {**_TOKENS, "description": "= input_tokens."},
        "gen_ai.usage.output_tokens": {**_TOKENS, "description": "= output_tokens."},
        "gen_ai.usage.cache_read.input_tokens": {**_TOKENS, "description": "= cached_tokens."},
        "gen_ai.usage.cache_read_input_tokens": {**_TOKENS, "description": "= cached_tokens (older name)."},
        "gen_ai.response.id": {"type": "string", "description": "= request_id."},
        "gen_ai.agent.name": {"type": "string", "description": "= agent."},
    },
    "additionalProperties": True,
}
_EVENTS = {"type": "array", "maxItems": MAX_EVENTS, "items": _EVENT_SCHEMA}
REQUEST_SCHEMA = {
    "oneOf": [
        {"type": "object", "properties": {"events": _EVENTS}, "required": ["events"]},
        _EVENTS,
    ],
    "description": f'A batch of at most {MAX_EVENTS:,} events: {{"events": [...]}} or a bare list.',
}


class UsageEventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the batch, from 0.")
    field = serializers.CharField(help_text="The field at fault, as it was sent; empty when the whole event is.")
    message = serializers.CharField()


class UsageIngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this call.")
    duplicates = serializers.IntegerField(help_text="Events whose request_id was already stored or repeated.")
    rejected = serializers.IntegerField(help_text="Events not stored because of the errors listed.")
    unpriced = serializers.IntegerField(help_text="Stored events without a cost: their model is not in the catalog.")
    errors = UsageEventErrorSerializer(many=True, help_text=f"Per-event errors (the first {MAX_ERRORS:,}).")
    errors_omitted = serializers.IntegerField(required=False, help_text="Errors beyond those listed.")


class UsageIngestProblemSerializer(UsageIngestResultSerializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


NATIVE_EXAMPLE = {
    "events": [
        {
            "timestamp": "2025-06-02T09:14:03.120Z",
            "request_id": "chatcmpl-B8x2kQ0",
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1200,
            "output_tokens": 350,
            "cached_tokens": 1000,
            "agent": "claims-triage",
            "department": "claims-ops",
            "api_key_id": "key_prod_7f3a",
            "prompt_hash": "9f86d081884c7d65",
        },
        {
            "timestamp": "2025-06-02T09:14:05Z",
            "request_id": "msg_01XyZ",
            "model": "claude-sonnet-4-5",
            "input_tokens": 5000,
            "output_tokens": 800,
            "agent": "underwriting",
            "cost": "0.027",
            "currency": "USD",
        },
    ]
}
OTEL_EXAMPLE = [
    {
        "timestamp": "2025-06-02T09:15:00Z",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "gen_ai.response.id": "bedrock-5d1c",
        "gen_ai.usage.input_tokens": 900,
        "gen_ai.usage.output_tokens": 120,
        "gen_ai.agent.name": "kyc-checker",
        "gen_ai.operation.name": "chat",
    }
]
RESULT_EXAMPLE = {
    "accepted": 2,
    "duplicates": 1,
    "rejected": 1,
    "unpriced": 0,
    "errors": [
        {
            "index": 3,
            "field": "timestamp",
            "message": "timestamp must be an RFC 3339 date and time with an offset, e.g. 2025-06-01T12:00:00Z.",
        },
        {"index": 3, "field": "input_tokens", "message": "input_tokens must be a non-negative integer, not -5."},
    ],
}


# --- view ------------------------------------------------------------------------------------------------


class UsageEventsIngestApi(APIView):
    """Push a batch of usage events (token counts per model call). Needs an API key with the `ingest` scope.

    Valid events are stored even when others in the batch are not: the answer counts both and lists every
    error by index and field, so only the rejected events need resending. Sending the same request_id again
    (a retry) is counted as a duplicate and never stored twice."""

    parser_classes = [DecimalJSONParser]
    read_capability = Cap.INGEST
    write_capability = Cap.INGEST

    @extend_schema(
        operation_id="usage_events_ingest",
        tags=["usage events"],
        request={"application/json": REQUEST_SCHEMA},
        responses={
            200: OpenApiResponse(UsageIngestResultSerializer, description="Processed; per-event errors listed."),
            400: OpenApiResponse(
                UsageIngestProblemSerializer,
                description="problem+json: the body is not a batch, or no event in it is valid.",
            ),
            403: OpenApiResponse(ProblemSerializer, description="problem+json: the key has no `ingest` scope."),
            413: OpenApiResponse(ProblemSerializer, description=f"problem+json: more than {MAX_EVENTS:,} events."),
        },
        examples=[
            OpenApiExample("Native field names", value=NATIVE_EXAMPLE, request_only=True),
            OpenApiExample("OpenTelemetry GenAI names, bare list", value=OTEL_EXAMPLE, request_only=True),
            OpenApiExample("Processed", value=RESULT_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Too many events",
                value=problem_body(
                    413, "Payload too large", f"A batch holds at most {MAX_EVENTS:,} events; this one has 5,001."
                ),
                response_only=True,
                status_codes=["413"],
            ),
        ],
    )
    def post(self, request):
        return batch_post(
            request,
            key="events",
            noun="event",
            ingest=lambda events: usage_events_ingest(events=events),
            too_large=BatchTooLarge,
        )


urlpatterns: list = [
    re_path(r"^usage-events/?$", UsageEventsIngestApi.as_view(), name="usage-events"),
]
