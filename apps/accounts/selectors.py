from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import ApiKey, Invitation, Membership, User
from .roles import Role


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


def people_for_client(*, client) -> dict[str, str]:
    """Everyone who can answer for a client's assets: its members (unexpired) and the MSP's admins.

    Returns {email: display name}, in email order; owners of assets and alerts are chosen from it.
    """
    now = timezone.now()
    members = User.objects.filter(
        Q(memberships__client=client) & (Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now))
    )
    admins = User.objects.filter(msp_role=Role.MSP_ADMIN)
    people = (members | admins).filter(is_active=True).distinct().order_by("email")
    return {email: (name or email) for email, name in people.values_list("email", "full_name")}
