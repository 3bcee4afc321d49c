from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """SHARED (public schema): users, client memberships and roles, invitations, API keys, MFA policy."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "People and access"
