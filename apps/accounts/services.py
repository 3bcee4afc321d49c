"""Writes for people and access. Every change is audited in the public schema's chain."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record, snapshot

from .models import ApiKey, Invitation, Membership, User, hash_secret
from .roles import MEMBERSHIP_ROLES, STAFF_ROLES, Role, Scope

INVITATION_DAYS = 7


def _audit_public(**kwargs) -> None:
    """Staff and access changes belong to the MSP's own chain, whatever schema the request is in."""
    with schema_context("public"):
        audit_record(**kwargs)


# --- users and memberships --------------------------------------------------


def user_create(*, email: str, password: str | None, full_name: str = "", msp_role: str = "") -> User:
    if msp_role and msp_role not in STAFF_ROLES:
        raise ValidationError({"msp_role": "Not an MSP staff role."})
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this email address already exists."})
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, full_name=full_name, msp_role=msp_role)
        _audit_public(action="user.create", target=user, after=snapshot(user, ["email", "full_name", "msp_role"]))
    return user


def membership_grant(
    *, user: User, client, role: str, expires_at: datetime | None = None, granted_by: User | None = None
) -> Membership:
    if role not in MEMBERSHIP_ROLES:
        raise ValidationError({"role": f"{role!r} is not a client role."})
    if role in STAFF_ROLES and not user.is_msp_staff:
        raise ValidationError({"role": "Only MSP staff can be assigned as account manager or engineer."})
    if role not in STAFF_ROLES and user.is_msp_staff:
        raise ValidationError({"role": "MSP staff are assigned as account manager or engineer."})
    if role == Role.AUDITOR and expires_at is None:
        raise ValidationError({"expires_at": "Auditor access must have an end date."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The end date must be in the future."})
    with transaction.atomic():
        existing = Membership.objects.filter(user=user, client=client).first()
        before = snapshot(existing)
        membership, _ = Membership.objects.update_or_create(
            user=user, client=client, defaults={"role": role, "expires_at": expires_at, "created_by": granted_by}
        )
        _audit_public(
            action="membership.grant",
            target=membership,
            before=before,
            after=snapshot(membership, ["user", "client", "role", "expires_at"]),
        )
    return membership


def membership_revoke(*, membership: Membership) -> None:
    with transaction.atomic():
        before = snapshot(membership, ["user", "client", "role", "expires_at"])
        _audit_public(action="membership.revoke", target=membership, before=before)
        membership.delete()


# --- invitations ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str


def invitation_create(
    *,
    email: str,
    invited_by: User,
    full_name: str = "",
    msp_role: str = "",
    client=None,
    role: str = "",
    membership_expires_at: datetime | None = None,
) -> IssuedInvitation:
    """Invite MSP staff (msp_role) or a client user (client + role) and email them a one-time link."""
    email = email.strip().lower()
    if bool(msp_role) == bool(client):
        raise ValidationError("Invite either MSP staff (a staff role) or a client user (a client and a role).")
    if msp_role and msp_role not in STAFF_ROLES:
        raise ValidationError({"msp_role": "Not an MSP staff role."})
    if client is not None and role not in MEMBERSHIP_ROLES - STAFF_ROLES:
        raise ValidationError({"role": "Choose a client role."})
    if role == Role.AUDITOR and membership_expires_at is None:
        raise ValidationError({"membership_expires_at": "Auditor access must have an end date."})
    if User.objects.filter(email__iexact=email).exists() and msp_role:
        raise ValidationError({"email": "This person already has a Keel account."})
    if client is not None and User.objects.filter(email__iexact=email).exclude(msp_role="").exists():
        # Accepting would fail (membership_grant refuses client roles for staff): say so now.
        raise ValidationError({"email": "This person is MSP staff: assign them to this client on the Staff page."})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            email=email,
            full_name=full_name,
            msp_role=msp_role,
            client=client,
            role=role,
            membership_expires_at=membership_expires_at,
            token_hash=hash_secret(token),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        )
        _audit_public(
            action="invitation.create",
            target=invitation,
            after=snapshot(invitation, ["email", "msp_role", "client", "role", "membership_expires_at"]),
        )
    url = f"{settings.KEEL_BASE_URL.rstrip('/')}/invitations/{token}/"
    context = {"invitation": invitation, "url": url, "msp_name": settings.KEEL_MSP_NAME}
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {settings.KEEL_MSP_NAME} on Keel",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return IssuedInvitation(invitation=invitation, url=url)


def invitation_by_token(token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("client").filter(token_hash=hash_secret(token)).first()
    return invitation if invitation and invitation.is_usable else None


def invitation_accept(*, invitation: Invitation, password: str, full_name: str = "") -> User:
    if not invitation.is_usable:
        raise ValidationError("This invitation has expired or was already used.")
    with transaction.atomic():
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            user = user_create(
                email=invitation.email,
                password=password,
                full_name=full_name or invitation.full_name,
                msp_role=invitation.msp_role,
            )
        if invitation.client_id:
            membership_grant(
                user=user,
                client=invitation.client,
                role=invitation.role,
                expires_at=invitation.membership_expires_at,
                granted_by=invitation.invited_by,
            )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        _audit_public(action="invitation.accept", target=invitation)
    return user


def invitation_revoke(*, invitation: Invitation) -> None:
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit_public(action="invitation.revoke", target=invitation)


# --- API keys ---------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_create(
    *, name: str, client, scopes: list[str], created_by: User | None, expires_at: datetime | None = None
) -> IssuedApiKey:
    valid = set(Scope.values)
    unknown = [s for s in scopes if s not in valid]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    if client is not None and not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    prefix = secrets.token_hex(4)
    secret = f"keel_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name.strip() or "API key",
            client=client,
            prefix=prefix,
            key_hash=hash_secret(secret),
            scopes=sorted(set(scopes)),
            created_by=created_by,
            expires_at=expires_at,
        )
        _audit_public(
            action="api_key.create",
            target=key,
            after=snapshot(key, ["name", "client", "prefix", "scopes", "expires_at"]),
        )
    return IssuedApiKey(api_key=key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at:
        return api_key
    with transaction.atomic():
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        _audit_public(action="api_key.revoke", target=api_key, after={"revoked_at": api_key.revoked_at})
    return api_key
