"""The one place that decides who may reach what. Every portal page and API call passes through here.

Rules:
- A client workspace (/c/<slug>/...) is reachable by MSP admins, and by users with an unexpired membership
  at that client, and by API keys issued for that client. Anyone else gets 404: the client does not exist
  for them.
- MSP-level pages and API (/ and /api/v1/) are for MSP staff and MSP-level API keys.
- Within reach, capabilities come from the role (ROLE_CAPABILITIES) or the key's scopes (SCOPE_CAPABILITIES).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from .models import ApiKey, Membership, User
from .roles import MSP_KEY_CAPABILITIES, ROLE_CAPABILITIES, SCOPE_CAPABILITIES, Cap, Role

API_KEY_HEADER_PREFIXES = ("Api-Key ", "Bearer ")


@dataclass(frozen=True)
class Access:
    client: object | None  # tenancy.Client, None for MSP level
    role: str
    capabilities: frozenset[str] = field(default_factory=frozenset)
    user: User | None = None
    api_key: ApiKey | None = None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.is_msp_staff

    @property
    def read_only(self) -> bool:
        return Cap.EDIT not in self.capabilities


def membership_for(user: User, client) -> Membership | None:
    membership = Membership.objects.filter(user=user, client=client).first()
    if membership is None or membership.is_expired:
        return None
    return membership


def access_for_user(user: User, client) -> Access | None:
    """client=None asks for MSP-level access."""
    if not user.is_authenticated or not user.is_active:
        return None
    if client is None or client.schema_name == "public":
        if not user.is_msp_staff:
            return None
        return Access(client=None, role=user.msp_role, capabilities=ROLE_CAPABILITIES[user.msp_role], user=user)
    if not client.is_client:
        return None
    if user.is_msp_admin:
        return Access(client=client, role=Role.MSP_ADMIN, capabilities=ROLE_CAPABILITIES[Role.MSP_ADMIN], user=user)
    membership = membership_for(user, client)
    if membership is None:
        return None
    return Access(client=client, role=membership.role, capabilities=ROLE_CAPABILITIES[membership.role], user=user)


def access_for_key(key: ApiKey, client) -> Access | None:
    if key.status != "active":
        return None
    msp_level = client is None or client.schema_name == "public"
    if msp_level:
        if key.client_id is not None:
            return None
        return Access(client=None, role="api_key", capabilities=MSP_KEY_CAPABILITIES, api_key=key)
    if key.client_id != client.pk or not client.is_client:
        return None
    capabilities = frozenset().union(*(SCOPE_CAPABILITIES.get(s, frozenset()) for s in key.scopes))
    return Access(client=client, role="api_key", capabilities=capabilities, api_key=key)


class InvalidApiKey(Exception):
    pass


def api_key_from_header(header: str) -> ApiKey | None:
    """Parse `Api-Key keel_<prefix>_<secret>`; None when no key was offered, InvalidApiKey when it is bad."""
    if not header:
        return None
    for scheme in API_KEY_HEADER_PREFIXES:
        if header.startswith(scheme):
            raw = header[len(scheme) :].strip()
            break
    else:
        return None
    parts = raw.split("_")
    if len(parts) != 3 or parts[0] != "keel":
        raise InvalidApiKey("Malformed API key.")
    key = ApiKey.objects.select_related("client").filter(prefix=parts[1]).first()
    if key is None or not key.matches(raw):
        raise InvalidApiKey("Unknown API key.")
    if key.revoked_at:
        raise InvalidApiKey("This API key was revoked.")
    if key.expires_at and key.expires_at <= timezone.now():
        raise InvalidApiKey("This API key has expired.")
    return key


def clients_for_user(user: User):
    """The clients a user may open, for the switcher and the console."""
    from apps.tenancy.selectors import clients_live

    if user.is_msp_admin:
        return clients_live()
    now = timezone.now()
    # One filter() call so both conditions apply to the same membership row.
    unexpired = Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now)
    return clients_live().filter(unexpired, memberships__user=user).distinct()
