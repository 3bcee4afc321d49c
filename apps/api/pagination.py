from rest_framework.pagination import CursorPagination


class KeelCursorPagination(CursorPagination):
    """Keyset pagination: the same speed on page 1 and page 10,000 (no OFFSET scans)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
