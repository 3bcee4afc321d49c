"""Monthly reports, mounted at /c/<slug>/reports/ (config/urls_tenant.py)."""

from django.urls import path

from . import value_views, views

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
    # The value inputs the ROI section is computed from.
    path("value/", value_views.value_inputs, name="value_inputs"),
    path("value/settings/", value_views.value_settings_update, name="value_settings"),
    path("value/new/", value_views.value_driver_new, name="value_driver_new"),
    path("value/<int:pk>/edit/", value_views.value_driver_edit, name="value_driver_edit"),
    path("value/<int:pk>/delete/", value_views.value_driver_remove, name="value_driver_delete"),
]
