from django.shortcuts import render

from apps.accounts.roles import Cap
from apps.core.pagination import paginate
from apps.core.permissions import capability_required

from .selectors import audit_chain_verify, audit_events_search


@capability_required(Cap.VIEW_AUDIT)
def audit_list(request):
    filters = {k: request.GET.get(k, "").strip() for k in ("query", "action", "object_type", "actor")}
    page, querystring = paginate(request, audit_events_search(**filters))
    verification = audit_chain_verify() if request.GET.get("verify") else None
    return render(
        request,
        "audit/list.html",
        {"page": page, "querystring": querystring, "filters": filters, "verification": verification},
    )
