"""Every API error is application/problem+json (RFC 9457)."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(status_code: int, title: str, detail: str = "", **extra) -> dict:
    body = {"type": "about:blank", "title": title, "status": status_code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def problem_response(status_code: int, title: str, detail: str = "", **extra) -> HttpResponse:
    """For middleware and plain Django views, before DRF is involved."""
    return HttpResponse(
        json.dumps(problem_body(status_code, title, detail, **extra)),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _flatten(detail) -> dict | list | str:
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def problem_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException("The request body is larger than this endpoint accepts.")
        exc.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = problem_body(
            response.status_code, "Invalid request", "Some fields are not valid.", errors=_flatten(exc.detail)
        )
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        title = {
            400: "Bad request",
            401: "Authentication required",
            403: "Permission denied",
            404: "Not found",
            405: "Method not allowed",
            409: "Conflict",
            406: "Not acceptable",
            413: "Payload too large",
            415: "Unsupported media type",
            429: "Too many requests",
        }.get(response.status_code, "Error")
        body = problem_body(response.status_code, title, str(_flatten(detail)))
        if type(exc).__module__.startswith("apps.") and getattr(exc, "default_code", ""):
            body["code"] = exc.default_code  # Keel's own conflicts (assessment_final, integrity_failed, not_ready)
        wait = getattr(exc, "wait", None)
        if wait is not None:
            body["retry_after_seconds"] = int(wait)
    problem = Response(body, status=response.status_code, headers=dict(response.items()))
    problem.content_type = PROBLEM_CONTENT_TYPE
    return problem


def json_404(request, exception=None):
    """handler404 for API paths; portal paths get the HTML page."""
    return problem_response(404, "Not found", "No such resource.")


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem body, for the OpenAPI schema of error responses."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


def drf_problem(status_code: int, title: str, detail: str, **extra) -> Response:
    """A problem+json answer built by a view itself (batch endpoints answer with their counts inside)."""
    response = Response(problem_body(status_code, title, detail, **extra), status=status_code)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def batch_post(request, *, key: str, noun: str, ingest, too_large: type[Exception]) -> Response:
    """The shared answer of the batch endpoints (usage events, unit counts, SLO measurements): the body is
    {key: [...]} or a bare list; the valid items are stored and counted, every error listed; 413 over the limit,
    400 when nothing in the batch is valid."""
    body = request.data
    items = body.get(key) if isinstance(body, dict) else body
    if not isinstance(items, list):
        return drf_problem(400, "Invalid request", f'Send {{"{key}": [...]}} or a JSON list of {noun}s.', errors=[])
    try:
        result = ingest(items)
    except too_large as exc:
        return drf_problem(413, "Payload too large", str(exc))
    if items and result.rejected == len(items):
        return drf_problem(400, "Invalid request", f"No {noun} in the batch is valid.", **result.as_dict())
    return Response(result.as_dict(), status=status.HTTP_200_OK)
