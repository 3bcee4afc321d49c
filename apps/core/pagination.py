from django.core.paginator import Paginator


def paginate(request, queryset, per_page: int = 50):
    """Page of a list view; the template gets `page` and a querystring without the page parameter."""
    paginator = Paginator(queryset, per_page)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()
