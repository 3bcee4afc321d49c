from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.core.permissions import capability_required
from apps.tenancy.selectors import clients_live

from . import selectors, services
from .forms import AcceptInvitationForm, ApiKeyForm, AssignClientForm, ClientInvitationForm, StaffInvitationForm
from .models import ApiKey, Invitation, Membership, User
from .roles import Cap


def _end_of_day(date):
    return datetime.combine(date, time.min, tzinfo=UTC) if date else None


def mfa_required(request):
    """Staff land here until they have set up TOTP or a passkey."""
    return render(request, "accounts/mfa_required.html")


def invitation_accept(request, token):
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    form = AcceptInvitationForm(request.POST or None, initial={"full_name": invitation.full_name})
    if existing is not None:
        form = None
        if request.method == "POST":
            services.invitation_accept(invitation=invitation, password="")
            messages.success(request, "Invitation accepted. Sign in to continue.")
            return redirect("account_login")
    elif request.method == "POST" and form.is_valid():
        user = services.invitation_accept(
            invitation=invitation, password=form.cleaned_data["password1"], full_name=form.cleaned_data["full_name"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
    return render(
        request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form, "existing": existing}
    )


# --- client workspace: members and API keys ----------------------------------


@capability_required(Cap.MANAGE_MEMBERS)
def members(request):
    client = request.tenant
    form = ClientInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.invitation_create(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                invited_by=request.user,
                client=client,
                role=form.cleaned_data["role"],
                membership_expires_at=_end_of_day(form.cleaned_data.get("expires_on")),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            return redirect("accounts:members")
    return render(
        request,
        "accounts/members.html",
        {
            "memberships": selectors.memberships_for_client(client=client),
            "invitations": selectors.pending_invitations(client=client),
            "form": form,
        },
    )


@require_POST
@capability_required(Cap.MANAGE_MEMBERS)
def membership_remove(request, pk):
    membership = get_object_or_404(Membership, pk=pk, client=request.tenant)
    services.membership_revoke(membership=membership)
    messages.success(request, f"{membership.user.email} no longer has access.")
    return redirect("accounts:members")


@require_POST
@capability_required(Cap.MANAGE_MEMBERS)
def invitation_cancel(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk, client=request.tenant)
    services.invitation_revoke(invitation=invitation)
    messages.success(request, "Invitation cancelled.")
    return redirect("accounts:members")


def _api_keys_page(request, *, client, keys, template_base):
    form = ApiKeyForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(
                name=form.cleaned_data["name"],
                client=client,
                scopes=form.cleaned_data["scopes"] if client is not None else [],
                created_by=request.user,
                expires_at=_end_of_day(form.cleaned_data.get("expires_on")),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiKeyForm()
    return render(
        request,
        "accounts/api_keys.html",
        {"keys": keys, "form": form, "issued": issued, "msp_level": client is None, "base_template": template_base},
    )


@capability_required(Cap.MANAGE_API_KEYS)
def api_keys(request):
    client = request.tenant
    return _api_keys_page(
        request, client=client, keys=selectors.api_keys_for_client(client=client), template_base="workspace_base.html"
    )


@require_POST
@capability_required(Cap.MANAGE_API_KEYS)
def api_key_revoke(request, pk):
    in_workspace = connection.schema_name != "public"
    key = get_object_or_404(ApiKey, pk=pk, client=request.tenant if in_workspace else None)
    services.api_key_revoke(api_key=key)
    messages.success(request, f"Key {key.prefix}… revoked. Calls with it now fail.")
    return redirect("accounts:api_keys" if in_workspace else "staff_api_keys")


# --- MSP level: staff, MSP API keys ---------------------------------------------


@capability_required(Cap.MANAGE_STAFF)
def staff(request):
    invite_form = StaffInvitationForm(request.POST if request.POST.get("form") == "invite" else None)
    if request.method == "POST" and request.POST.get("form") == "invite" and invite_form.is_valid():
        try:
            issued = services.invitation_create(invited_by=request.user, **invite_form.cleaned_data)
        except ValidationError as exc:
            invite_form.add_error(None, exc)
        else:
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            return redirect("staff")
    return render(
        request,
        "accounts/staff.html",
        {
            "staff": selectors.staff_users(),
            "invitations": selectors.pending_invitations(),
            "invite_form": invite_form,
            "assign_form": AssignClientForm(clients=clients_live()),
        },
    )


@require_POST
@capability_required(Cap.MANAGE_STAFF)
def staff_assign(request, user_id):
    user = get_object_or_404(User, pk=user_id)
    if not user.is_msp_staff:
        raise Http404
    form = AssignClientForm(request.POST, clients=clients_live())
    if form.is_valid():
        try:
            services.membership_grant(
                user=user, client=form.cleaned_data["client"], role=form.cleaned_data["role"], granted_by=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{user.email} assigned to {form.cleaned_data['client'].name}.")
    else:
        messages.error(request, "Choose a client and a role.")
    return redirect("staff")


@require_POST
@capability_required(Cap.MANAGE_STAFF)
def staff_unassign(request, pk):
    membership = get_object_or_404(Membership, pk=pk, user__msp_role__gt="")
    services.membership_revoke(membership=membership)
    messages.success(request, "Assignment removed.")
    return redirect("staff")


@capability_required(Cap.MANAGE_STAFF)
def staff_api_keys(request):
    return _api_keys_page(request, client=None, keys=selectors.api_keys_msp_level(), template_base="base.html")
