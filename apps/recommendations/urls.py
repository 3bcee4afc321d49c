"""Portal routes, mounted at /c/<slug>/finops/recommendations/ by config/urls_tenant.py."""

from django.urls import path

from . import views

app_name = "recommendations"
urlpatterns = [
    path("", views.recommendation_list, name="list"),
    path("export.csv", views.export_csv, name="export"),
    path("realised.csv", views.realised_csv, name="realised_csv"),
    path("refresh/", views.refresh_now, name="refresh"),
    path("settings/", views.settings_page, name="settings"),
    path("propose/", views.propose, name="propose"),
    path("<int:pk>/", views.recommendation_detail, name="detail"),
    path("<int:pk>/accept/", views.recommendation_accept, name="accept"),
    path("<int:pk>/dismiss/", views.recommendation_dismiss, name="dismiss"),
    path("<int:pk>/implement/", views.recommendation_implement, name="implement"),
    path("<int:pk>/reopen/", views.recommendation_reopen, name="reopen"),
]
