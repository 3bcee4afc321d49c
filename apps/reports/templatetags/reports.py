from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from apps.core.charts import figure_json

from ..charts import plotly_figure, svg

register = template.Library()


@register.simple_tag
def report_chart(spec: dict, web: bool):
    """A chart from the snapshot: interactive in the portal, static SVG in the PDF; titled and described
    either way (the description is the alt text)."""
    if not spec:
        return ""
    element_id = f"chart-{spec['id']}"
    if web:
        body = format_html(
            '<div class="report-chart" data-plotly-figure="{0}-data" role="img" aria-label="{1}"></div>'
            '<script type="application/json" id="{0}-data">{2}</script>',
            element_id,
            spec.get("description", ""),
            figure_json(plotly_figure(spec)),
        )
    else:
        body = mark_safe(svg(spec))  # noqa: S308 — svg() escapes every label it writes
    return format_html(
        '<figure class="report-figure" id="{}"><figcaption>{}</figcaption>{}<p class="sr-only">{}</p></figure>',
        element_id,
        spec.get("title", ""),
        body,
        spec.get("description", ""),
    )


@register.filter
def signed(value):
    """A change in % with its sign: +4.2 %, −3.0 %, or — when there is none."""
    if value in (None, ""):
        return "—"
    text = str(value)
    return f"+{text} %" if not text.startswith("-") else f"−{text[1:]} %"


@register.filter
def css_string(value):
    """Text for a CSS content: "…" string (page headers of the PDF): everything but plain letters, digits and
    spaces becomes a CSS hex escape, so a client name cannot break out of the string or the <style>."""
    return mark_safe("".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in str(value)))  # noqa: S308
