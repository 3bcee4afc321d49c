from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request):
    """Liveness: the process answers. No dependencies checked, so restarts are not triggered by them."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Readiness: the database answers and the broker accepts a connection."""
    checks = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    checks["broker"] = _broker_status()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def _broker_status() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def _is_api_path(path: str) -> bool:
    return path.startswith("/api/") or "/api/v1/" in path


def not_found(request, exception=None):
    """404 for every route: problem+json on API paths, the portal's page elsewhere."""
    from django.shortcuts import render

    from apps.api.errors import problem_response

    if _is_api_path(request.path):
        return problem_response(404, "Not found", "No such resource.")
    return render(request, "404.html", status=404)


def server_error(request):
    from django.shortcuts import render

    from apps.api.errors import problem_response

    if _is_api_path(request.path):
        return problem_response(500, "Internal error", "The error was logged; try again later.")
    return render(request, "500.html", status=500)
