from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.models import TaskRun
from apps.core.pagination import paginate
from apps.core.permissions import capability_required

from . import services
from .forms import ClientForm, LifecycleForm
from .selectors import clients_all


@capability_required(Cap.MANAGE_CLIENTS)
def client_list(request):
    return render(request, "tenancy/client_list.html", {"clients": clients_all().select_related("rollup")})


@capability_required(Cap.MANAGE_CLIENTS)
def client_create(request):
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items()}
        try:
            client = services.client_create(**data)
        except ValidationError as exc:
            form.add_error(None, exc) if not hasattr(exc, "error_dict") else apply_validation_error(form, exc)
        else:
            messages.success(request, f"{client.name} is ready. Invite its people and connect its data next.")
            return redirect(client.get_absolute_url())
    return render(request, "tenancy/client_form.html", {"form": form})


@capability_required(Cap.VIEW)
def workspace_home(request):
    from apps.alerts.selectors import alerts_list

    return render(
        request,
        "tenancy/workspace_home.html",
        {
            "client": request.tenant,
            "recent_alerts": alerts_list(state="active")[:8],
            "failed_jobs": TaskRun.objects.filter(status=TaskRun.Status.FAILED)[:5],
        },
    )


@capability_required(Cap.VIEW)
def client_settings(request):
    client = request.tenant
    can_edit = request.access.can(Cap.EDIT)
    form = ClientForm(request.POST or None, instance=client) if can_edit else None
    if can_edit and request.method == "POST" and form.is_valid():
        try:
            services.client_update(client=client, **{k: form.cleaned_data[k] for k in form.changed_data})
        except ValidationError as exc:
            apply_validation_error(form, exc) if hasattr(exc, "error_dict") else form.add_error(None, exc)
        else:
            messages.success(request, "Client settings saved.")
            return redirect("settings")
    return render(
        request,
        "tenancy/client_settings.html",
        {
            "client": client,
            "form": form,
            "lifecycle_form": LifecycleForm(initial={"lifecycle": client.lifecycle}),
            "can_manage": request.access.can(Cap.MANAGE_CLIENTS),
        },
    )


@require_POST
@capability_required(Cap.MANAGE_CLIENTS)
def client_lifecycle(request):
    form = LifecycleForm(request.POST)
    if form.is_valid():
        try:
            services.client_set_lifecycle(client=request.tenant, lifecycle=form.cleaned_data["lifecycle"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Client is now {request.tenant.get_lifecycle_display().lower()}.")
    return redirect("settings")


@capability_required(Cap.VIEW_AUDIT)
def task_runs(request):
    status = request.GET.get("status", "")
    qs = TaskRun.objects.all()
    if status:
        qs = qs.filter(status=status)
    page, querystring = paginate(request, qs)
    return render(
        request,
        "tenancy/task_runs.html",
        {
            "page": page,
            "querystring": querystring,
            "status": status,
            "statuses": TaskRun.Status.choices,
            "base_template": "workspace_base.html" if request.tenant.schema_name != "public" else "base.html",
        },
    )
