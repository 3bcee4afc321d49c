"""Template helpers for other apps' pages: the AI incident opened from a runaway incident or an anomaly."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def ai_incident_for(source_kind: str, source_id):
    """{% ai_incident_for "runaway" incident.pk as ai_incident %}: the AI incident opened from it, or None."""
    from apps.incidents.selectors import incident_for_source

    try:
        return incident_for_source(source_kind, int(source_id))
    except (TypeError, ValueError):
        return None


@register.filter
def local_utc(moment) -> str:
    """ "Fri 4 Dec 2026 18:00 CET · 17:00 UTC": the active (client's) time zone first, UTC beside it."""
    import datetime as dt

    from django.utils import timezone

    if not moment:
        return "—"
    local = timezone.localtime(moment)
    utc = moment.astimezone(dt.UTC)
    utc_text = f"{utc:%H:%M} UTC" if utc.date() == local.date() else f"{utc:%a %-d %b %H:%M} UTC"
    return f"{local:%a %-d %b %Y %H:%M} {local.tzname()} · {utc_text}"


@register.filter
def t0_label(report, regime=None) -> str:
    """{{ report|t0_label:regime }}: "Awareness", "Submission of the initial notification"."""
    return report.t0_label(regime)


@register.filter
def local_when(moment) -> str:
    """ "Fri 4 Dec 2026 03:11 CET" in the active (client's) time zone."""
    from django.utils import timezone

    if not moment:
        return "—"
    local = timezone.localtime(moment)
    return f"{local:%a %-d %b %Y %H:%M} {local.tzname()}"


@register.filter
def utc_when(moment) -> str:
    """ "Fri 4 Dec 02:11 UTC"."""
    import datetime as dt

    if not moment:
        return "—"
    return f"{moment.astimezone(dt.UTC):%a %-d %b %H:%M} UTC"
