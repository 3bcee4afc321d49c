"""Assessment templates and portfolio maturity, mounted at /assessments/ in the MSP's public site."""

from django.urls import path

from . import views

app_name = "assessment_templates"
urlpatterns = [
    path("", views.portfolio_maturity, name="portfolio"),
    path("templates/", views.template_list, name="list"),
    path("templates/upload/", views.template_upload, name="upload"),
    path("templates/<slug:key>/", views.template_detail, name="detail"),
    path("templates/<slug:key>/download/", views.template_download, name="download"),
    path("templates/<slug:key>/copy/", views.template_copy_view, name="copy"),
    path("templates/<slug:key>/edit/", views.template_edit, name="edit"),
]
