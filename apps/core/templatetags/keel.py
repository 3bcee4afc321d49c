from decimal import Decimal

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def public_url(name, *args, **kwargs):
    """Reverse an MSP-level route (sign-out, security, console) from any page, including client workspaces."""
    return reverse(name, urlconf="config.urls_public", args=args or None, kwargs=kwargs or None)


@register.filter
def get_item(mapping, key):
    """{{ counts|get_item:severity }}: a dict lookup with a variable key."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def label_of(value, choices):
    """The display label of a stored choice value (e.g. a power in an ArrayField)."""
    return dict(choices).get(value, value)


@register.filter
def per_million(price_per_token):
    """A per-token Decimal price as the per-million figure price pages use ($2.50, not $0.0000025)."""
    if price_per_token is None:
        return ""
    value = (price_per_token * 1_000_000).normalize()
    return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:,f}"


@register.filter
def money(value, places: int = 2):
    """A Decimal amount with thousands separators, rounded half up (the stored value keeps every digit)."""
    from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return value
    return f"{amount:,}"
