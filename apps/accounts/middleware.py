"""Applies apps.accounts.access to every request before any view runs."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from apps.api.errors import problem_response
from apps.core.context import current_actor, reset_actor, set_actor

from .access import InvalidApiKey, access_for_key, access_for_user, api_key_from_header

# Paths anyone may open (sign-in, health, static files, API description).
OPEN_PREFIXES = (
    "/accounts/",
    "/invitations/",
    "/static/",
    "/healthz",
    "/readyz",
    "/api/schema/",
    "/api/docs/",
    "/favicon.ico",
)
# Signed-in staff without MFA may open only these, to set MFA up.
MFA_SETUP_PREFIXES = ("/accounts/", "/static/", "/healthz", "/readyz")


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or "/api/v1/" in path


class AccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = None
        try:
            response = self._check(request)
            if response is not None:
                return response
            token = self._stamp_actor(request)
            tenant = getattr(request, "tenant", None)
            if tenant is not None and tenant.schema_name != "public" and not _is_api(request.path):
                timezone.activate(tenant.time_zone)  # a client's pages show times in its zone; the API says UTC
            return self.get_response(request)
        finally:
            timezone.deactivate()
            if token is not None:
                reset_actor(token)

    def _check(self, request):
        tenant = getattr(request, "tenant", None)
        in_workspace = tenant is not None and tenant.schema_name != "public"
        path = request.path
        request.access = None
        api = _is_api(request.path)

        if getattr(request, "unknown_client_slug", None):
            return self._unknown_client(request, api)
        if not in_workspace and path.startswith(OPEN_PREFIXES):
            if request.user.is_authenticated and path.startswith("/accounts/"):
                # Account pages show the staff navigation too; reaching them needs no access decision.
                request.access = access_for_user(request.user, None)
            return None

        try:
            key = api_key_from_header(request.headers.get("Authorization", ""))
        except InvalidApiKey as exc:
            return problem_response(401, "Invalid API key", str(exc))
        if key is not None:
            if not api:
                raise Http404
            request.access = access_for_key(key, tenant if in_workspace else None)
            if request.access is None:
                raise Http404
            _touch_key(key, request)
            return None

        user = request.user
        if not user.is_authenticated:
            if api:
                return problem_response(401, "Authentication required", "Send `Authorization: Api-Key <key>`.")
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)

        if user.is_msp_staff and settings.KEEL_REQUIRE_STAFF_MFA and not _mfa_enabled(user):
            if api:
                return problem_response(403, "MFA required", "Set up multi-factor authentication first.")
            if not path.startswith(MFA_SETUP_PREFIXES):
                return redirect(reverse("mfa_required", urlconf="config.urls_public"))
            return None

        request.access = access_for_user(user, tenant if in_workspace else None)
        if request.access is None:
            if not in_workspace and not user.is_msp_staff and not api:
                return _client_user_home(user)
            raise Http404
        return None

    @staticmethod
    def _unknown_client(request, api: bool):
        """Answer exactly as for a real client the caller cannot reach (see ClientRoutingMiddleware)."""
        if request.headers.get("Authorization") or request.user.is_authenticated:
            raise Http404
        if api:
            return problem_response(401, "Authentication required", "Send `Authorization: Api-Key <key>`.")
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)

    def _stamp_actor(self, request):
        access = request.access
        if access is None:
            return None
        from dataclasses import replace

        actor = current_actor()
        return set_actor(
            replace(
                actor,
                user_id=access.user.pk if access.user else None,
                user_email=access.user.email if access.user else "",
                api_key_prefix=access.api_key.prefix if access.api_key else "",
            )
        )


def _mfa_enabled(user) -> bool:
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user)


def _client_user_home(user):
    """A client user who opens the MSP console lands in their own workspace instead; an auditor, who reads only
    the compliance register, lands on the register."""
    from .access import clients_for_user
    from .models import Membership
    from .roles import ROLE_CAPABILITIES, Cap

    client = clients_for_user(user).first()
    if client is None:
        raise Http404
    role = Membership.objects.filter(user=user, client=client).values_list("role", flat=True).first()
    capabilities = ROLE_CAPABILITIES.get(role, frozenset())
    if Cap.VIEW not in capabilities and Cap.VIEW_REGISTER in capabilities:
        return redirect(f"{client.get_absolute_url()}compliance/")
    return redirect(client.get_absolute_url())


def _touch_key(key, request) -> None:
    # At most one write per key per minute, so busy integrations don't turn reads into writes.
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        from .models import ApiKey

        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=request.META.get("REMOTE_ADDR", ""))
