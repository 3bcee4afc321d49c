from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiKey, Invitation, Membership, User


def api_keys_for_client(*, client) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(client=client).select_related("created_by").order_by("-created_at")


def api_keys_msp_level() -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(client__isnull=True).select_related("created_by").order_by("-created_at")


def memberships_for_client(*, client) -> QuerySet[Membership]:
    return Membership.objects.filter(client=client).select_related("user").order_by("role", "user__email")


def staff_users() -> QuerySet[User]:
    return User.objects.exclude(msp_role="").prefetch_related("memberships__client").order_by("email")


def pending_invitations(*, client=None) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
    return qs.filter(client=client) if client is not None else qs.filter(client__isnull=True)
