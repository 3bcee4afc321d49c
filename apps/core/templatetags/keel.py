from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def public_url(name, *args, **kwargs):
    """Reverse an MSP-level route (sign-out, security, console) from any page, including client workspaces."""
    return reverse(name, urlconf="config.urls_public", args=args or None, kwargs=kwargs or None)
