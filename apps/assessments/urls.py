"""Capability assessments, mounted at /c/<slug>/assessments/ (config/urls_tenant.py)."""

from django.urls import path

from . import views

app_name = "assessments"
urlpatterns = [
    path("", views.assessment_list, name="list"),
    path("new/", views.assessment_new, name="new"),
    path("compare/", views.assessment_compare, name="compare"),
    path("roadmap/", views.roadmap, name="roadmap"),
    path("roadmap/<int:pk>/", views.roadmap_item_edit, name="roadmap_item"),
    path("targets/<slug:template_id>/", views.target_profile, name="targets"),  # a key; _id for the walker
    path("<int:pk>/", views.assessment_detail, name="detail"),
    path("<int:pk>/edit/", views.assessment_edit, name="edit"),
    path("<int:pk>/prefill/", views.assessment_prefill, name="prefill"),
    path("<int:pk>/submit/", views.assessment_submit, name="submit"),
    path("<int:pk>/return/", views.assessment_return, name="return"),
    path("<int:pk>/finalise/", views.assessment_finalise, name="finalise"),
    path("<int:pk>/roadmap/", views.roadmap_generate, name="roadmap_generate"),
    path("<int:pk>/report/", views.assessment_report, name="report"),
    path("<int:pk>/report.pdf", views.assessment_report_pdf, name="report_pdf"),
    path("<int:pk>/answers/<int:question_id>/", views.answer_save, name="answer"),
    path("<int:pk>/answers/<int:question_id>/upload/", views.answer_upload, name="answer_upload"),
]
