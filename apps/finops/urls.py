from django.urls import include, path

app_name = "finops"
urlpatterns = [
    path("", include("apps.finops.urls_export")),
]
