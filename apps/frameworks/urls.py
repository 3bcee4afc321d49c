"""Framework library pages, mounted at /frameworks/ in the MSP's public site (config/urls_public.py)."""

from django.urls import path

from . import views

app_name = "frameworks"
urlpatterns = [
    path("", views.framework_list, name="list"),
    path("<slug:ref>/", views.framework_detail, name="detail"),
    path("<slug:ref>/history/", views.framework_history, name="history"),
]
