from django.urls import path

from . import views

app_name = "budgets"
urlpatterns = [
    path("", views.budget_list, name="list"),
    path("new/", views.budget_new, name="new"),
    path("<int:pk>/", views.budget_detail, name="detail"),
    path("<int:pk>/edit/", views.budget_edit, name="edit"),
    path("<int:pk>/delete/", views.budget_remove, name="delete"),
    path("<int:pk>/evaluate/", views.budget_evaluate, name="evaluate"),
    path("<int:pk>/series.csv", views.budget_csv, name="csv"),
]
