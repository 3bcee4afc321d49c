from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required

from .selectors import console_alert_feed, console_clients


@capability_required(Cap.CONSOLE)
def console(request):
    target = request.GET.get("client", "")
    if target.startswith("/c/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return redirect(target)  # the client switcher without JavaScript
    return render(
        request,
        "portfolio/console.html",
        {
            "clients": console_clients(user=request.user),
            "feed": console_alert_feed(user=request.user),
        },
    )
