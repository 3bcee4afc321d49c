from django.db.models import Q, QuerySet

from .models import Department


def departments_list(*, query: str = "") -> QuerySet[Department]:
    qs = Department.objects.all()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(code__icontains=query) | Q(cost_center__icontains=query))
    return qs.order_by("name")
