"""Template filters of the unit economics pages."""

from django import template

from ..charts import money_text, per_unit_text

register = template.Library()


@register.filter
def per_unit(value):
    """A cost per unit as people read it: 0.4213, 12.40, 0.000123 (the Decimal keeps every digit)."""
    return per_unit_text(value)


@register.filter
def signed(value, kind: str = "money"):
    """A change with its sign: +512, −0.0198, +1,234.56 (a real minus sign). kind: money, per_unit, int, percent."""
    if value is None:
        return "—"
    if kind == "per_unit":
        text = per_unit_text(abs(value))
    elif kind == "int":
        text = f"{abs(value):,}"
    elif kind == "percent":
        text = f"{abs(value):,} %"
    else:
        text = money_text(abs(value))
    if not any(ch in "123456789" for ch in text):  # rounds to nothing: no sign (never "−0.00")
        return text
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"−{text}"
    return text
