"""Roles and what each may do. This table is the permission matrix in docs/permissions.md; tests enforce it."""

from django.db import models


class Role(models.TextChoices):
    MSP_ADMIN = "msp_admin", "MSP admin"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    ENGINEER = "engineer", "Engineer"
    CLIENT_EXECUTIVE = "client_executive", "Client executive"
    CLIENT_VIEWER = "client_viewer", "Client viewer"
    AUDITOR = "auditor", "Auditor"


STAFF_ROLES = frozenset({Role.MSP_ADMIN, Role.ACCOUNT_MANAGER, Role.ENGINEER})
CLIENT_ROLES = frozenset({Role.CLIENT_EXECUTIVE, Role.CLIENT_VIEWER, Role.AUDITOR})
# Roles a membership (user x client) can carry; MSP admins reach every client without one.
MEMBERSHIP_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.ENGINEER}) | CLIENT_ROLES


class Cap:
    """Capabilities checked by the one enforcement point (apps.accounts.access)."""

    VIEW = "view"  # the client workspace: dashboards, inventory, reports
    EDIT = "edit"  # change the client's data
    VIEW_AUDIT = "view_audit"  # the audit trail
    VIEW_REGISTER = "view_register"  # compliance evidence register (auditors)
    MANAGE_ALERTS = "manage_alerts"  # acknowledge / resolve alerts, alert channels
    MANAGE_MEMBERS = "manage_members"  # invite client users, change their roles
    MANAGE_API_KEYS = "manage_api_keys"
    ISSUE_REPORTS = "issue_reports"  # review and issue the client's monthly report (figures never change)
    INGEST = "ingest"  # push usage events, measurements (API keys)
    # MSP-level (no client)
    CONSOLE = "console"  # the portfolio console across assigned clients
    MANAGE_CLIENTS = "manage_clients"  # create, change, offboard clients
    MANAGE_STAFF = "manage_staff"  # invite staff, assign clients
    MANAGE_LIBRARY = "manage_library"  # copy, adapt and upload assessment templates


# Each staff role is the one above it minus what only that role may do.
_ENGINEER = frozenset({Cap.VIEW, Cap.EDIT, Cap.VIEW_AUDIT, Cap.VIEW_REGISTER, Cap.MANAGE_ALERTS, Cap.CONSOLE})
_ACCOUNT_MANAGER = _ENGINEER | {Cap.MANAGE_MEMBERS, Cap.MANAGE_API_KEYS, Cap.MANAGE_LIBRARY, Cap.ISSUE_REPORTS}
_MSP_ADMIN = _ACCOUNT_MANAGER | {Cap.MANAGE_CLIENTS, Cap.MANAGE_STAFF}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.MSP_ADMIN: _MSP_ADMIN,
    Role.ACCOUNT_MANAGER: _ACCOUNT_MANAGER,
    Role.ENGINEER: _ENGINEER,
    Role.CLIENT_EXECUTIVE: frozenset({Cap.VIEW}),
    Role.CLIENT_VIEWER: frozenset({Cap.VIEW}),
    Role.AUDITOR: frozenset({Cap.VIEW_REGISTER, Cap.VIEW_AUDIT}),
}


class Scope(models.TextChoices):
    """API key scopes; a key can do what its scopes grant, never more than its creator's role."""

    READ = "read", "Read everything in the client workspace"
    WRITE = "write", "Create and change inventory, budgets, SLOs and other records"
    INGEST = "ingest", "Push usage events, business unit counts, measurements"
    ALERTS = "alerts", "Acknowledge and resolve alerts"


SCOPE_CAPABILITIES: dict[str, frozenset[str]] = {
    Scope.READ: frozenset({Cap.VIEW, Cap.VIEW_AUDIT, Cap.VIEW_REGISTER}),
    Scope.WRITE: frozenset({Cap.EDIT}),
    Scope.INGEST: frozenset({Cap.INGEST}),
    Scope.ALERTS: frozenset({Cap.MANAGE_ALERTS}),
}
# MSP-level keys (no client) read the portfolio.
MSP_KEY_CAPABILITIES = frozenset({Cap.CONSOLE})
