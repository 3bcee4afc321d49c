"""Monthly reports, mounted at /c/<slug>/reports/ (config/urls_tenant.py)."""

from django.urls import path

from . import views

try:
    from .value_views import urlpatterns_value
except ImportError:  # pragma: no cover — the value inputs pages are being added in this change
    urlpatterns_value = []

app_name = "reports"
urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_new, name="new"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/pdf/", views.report_pdf_download, name="pdf"),
    path("<int:pk>/commentary/", views.report_commentary, name="commentary"),
    path("<int:pk>/recompute/", views.report_recompute, name="recompute"),
    path("<int:pk>/review/", views.report_review, name="review"),
    path("<int:pk>/issue/", views.report_issue, name="issue"),
    path("<int:pk>/reissue/", views.report_reissue, name="reissue"),
    path("<int:pk>/resend/", views.report_resend, name="resend"),
    *urlpatterns_value,
]
