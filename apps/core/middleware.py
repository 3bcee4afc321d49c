from django.db import connection

from .context import ActorContext, new_request_id, reset_actor, set_actor


def client_ip(request) -> str:
    # Behind the production proxy the first X-Forwarded-For hop is the client; the proxy sets it.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and an actor context for logs and the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming[:64] if incoming.replace("-", "").isalnum() else new_request_id()
        request.request_id = request_id
        token = set_actor(
            ActorContext(
                request_id=request_id,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:200],
                source="api" if "/api/" in request.path else "portal",
            )
        )
        try:
            response = self.get_response(request)
        finally:
            reset_actor(token)
        response["X-Request-ID"] = request_id
        return response


def current_schema() -> str:
    return getattr(connection, "schema_name", "public")
