from django.urls import path

from . import views

app_name = "compliance"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("frameworks/enable/", views.framework_enable_view, name="framework_enable"),
    path("frameworks/<int:pk>/", views.framework_detail, name="framework"),
    path("frameworks/<int:pk>/edit/", views.framework_edit, name="framework_edit"),
    path("frameworks/<int:pk>/adopt/", views.framework_adopt, name="framework_adopt"),
    path("frameworks/<int:pk>/disable/", views.framework_disable, name="framework_disable"),
    path("frameworks/<int:pk>/requirements/<int:req_pk>/", views.requirement_detail, name="requirement"),
    path(
        "frameworks/<int:pk>/requirements/<int:req_pk>/assess/",
        views.requirement_assess_view,
        name="requirement_assess",
    ),
    path("frameworks/<int:pk>/requirements/<int:req_pk>/map/", views.requirement_map, name="requirement_map"),
    path("controls/", views.control_list, name="controls"),
    path("controls/new/", views.control_new, name="control_new"),
    path("controls/<int:pk>/", views.control_detail, name="control"),
    path("controls/<int:pk>/edit/", views.control_edit, name="control_edit"),
    path("controls/<int:pk>/review/", views.control_review_view, name="control_review"),
    path("controls/<int:pk>/map/", views.control_map, name="control_map"),
    path("mappings/<int:pk>/remove/", views.mapping_remove_view, name="mapping_remove"),
    path("crosswalk/", views.crosswalk, name="crosswalk"),
    path("evidence/", views.evidence_list_view, name="evidence_list"),
    path("evidence/new/", views.evidence_new, name="evidence_new"),
    path("evidence/generate/", views.evidence_generate_view, name="evidence_generate"),
    path("evidence/<int:pk>/", views.evidence_detail, name="evidence"),
    path("evidence/<int:pk>/edit/", views.evidence_edit, name="evidence_edit"),
    path("evidence/<int:pk>/revise/", views.evidence_revise, name="evidence_revise"),
    path("evidence/<int:pk>/approve/", views.evidence_approve_view, name="evidence_approve"),
    path("evidence/<int:pk>/reject/", views.evidence_reject_view, name="evidence_reject"),
    path("evidence/<int:pk>/revisions/<int:number>/download/", views.evidence_download, name="evidence_download"),
]
