from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.pagination import paginate
from apps.core.permissions import capability_required

from . import services
from .forms import ChannelForm, NoteForm
from .models import Alert, AlertDelivery, NotificationChannel, Severity
from .selectors import alerts_list
from .services_delivery import channel_delete, channel_save


@capability_required(Cap.VIEW)
def alert_list(request):
    filters = {
        "state": request.GET.get("state", "active"),
        "severity": request.GET.get("severity", ""),
        "query": request.GET.get("query", "").strip(),
    }
    page, querystring = paginate(request, alerts_list(**filters))
    context = {
        "page": page,
        "querystring": querystring,
        "filters": filters,
        "severities": Severity.choices,
        "states": Alert.State.choices,
    }
    template = "alerts/_table.html" if request.htmx else "alerts/list.html"
    return render(request, template, context)


@capability_required(Cap.VIEW)
def alert_detail(request, pk):
    alert = get_object_or_404(Alert, pk=pk)
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "events": alert.events.all(),
            "deliveries": alert.deliveries.select_related("channel")[:20],
            "form": NoteForm(),
        },
    )


@require_POST
@capability_required(Cap.MANAGE_ALERTS)
def alert_action(request, pk, action):
    alert = get_object_or_404(Alert, pk=pk)
    form = NoteForm(request.POST)
    note = form.data.get("note", "").strip()
    handlers = {"acknowledge": services.alert_acknowledge, "resolve": services.alert_resolve}
    try:
        if action == "note":
            services.alert_add_note(alert=alert, note=note)
        elif action in handlers:
            handlers[action](alert=alert, note=note)
            messages.success(request, f"Alert {'acknowledged' if action == 'acknowledge' else 'resolved'}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx and request.POST.get("from") == "list":
        return alert_list(request)
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("alerts:detail", pk=alert.pk)


@capability_required(Cap.MANAGE_ALERTS)
def channel_list(request):
    return render(
        request,
        "alerts/channels.html",
        {
            "channels": NotificationChannel.objects.all(),
            "deliveries": AlertDelivery.objects.select_related("channel", "alert")[:50],
        },
    )


@capability_required(Cap.MANAGE_ALERTS)
def channel_edit(request, pk=None):
    channel = get_object_or_404(NotificationChannel, pk=pk) if pk else None
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        try:
            channel_save(channel=channel, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Channel saved.")
            return redirect("alerts:channels")
    return render(request, "alerts/channel_form.html", {"form": form, "channel": channel})


@require_POST
@capability_required(Cap.MANAGE_ALERTS)
def channel_remove(request, pk):
    channel_delete(channel=get_object_or_404(NotificationChannel, pk=pk))
    messages.success(request, "Channel removed.")
    return redirect("alerts:channels")
