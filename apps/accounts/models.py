import hashlib
import hmac

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .roles import MEMBERSHIP_ROLES, Role, Scope


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("msp_role", Role.MSP_ADMIN)
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """Everyone signs in with an email address. `msp_role` is set for MSP staff only."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    msp_role = models.CharField(
        max_length=20,
        blank=True,
        choices=[(r.value, r.label) for r in (Role.MSP_ADMIN, Role.ACCOUNT_MANAGER, Role.ENGINEER)],
        help_text="Empty for client users; their access comes from memberships only.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.full_name or self.email

    @property
    def is_msp_staff(self) -> bool:
        return bool(self.msp_role)

    @property
    def is_msp_admin(self) -> bool:
        return self.msp_role == Role.MSP_ADMIN


class Membership(models.Model):
    """A user's role at one client. Auditor memberships must expire."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey("tenancy.Client", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in Role if r in MEMBERSHIP_ROLES])
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["client__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="membership_one_per_client"),
            models.CheckConstraint(
                condition=~Q(role=Role.AUDITOR) | Q(expires_at__isnull=False), name="membership_auditor_expires"
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.client} ({self.get_role_display()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Invitation(models.Model):
    """An emailed invitation: staff (msp_role) or a client user (client + role). Token stored hashed."""

    email = models.EmailField()
    full_name = models.CharField(max_length=150, blank=True)
    msp_role = models.CharField(max_length=20, blank=True)
    client = models.ForeignKey("tenancy.Client", null=True, blank=True, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, blank=True)
    membership_expires_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation for {self.email}"

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


def hash_secret(secret: str) -> str:
    # API keys and invitation tokens carry 256 bits of randomness: a fast hash is enough and lets
    # every request be checked without a slow KDF.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A client-scoped (or MSP-level when client is empty) API key. Only a hash of the secret is kept."""

    name = models.CharField(max_length=100)
    client = models.ForeignKey(
        "tenancy.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.CharField(max_length=45, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_secret(secret))

    def get_scope_labels(self) -> list[str]:
        labels = dict(Scope.choices)
        return [labels.get(s, s) for s in self.scopes]
