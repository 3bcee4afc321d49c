from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("departments/", views.department_list, name="departments"),
    path("departments/new/", views.department_edit, name="department_new"),
    path("departments/<int:pk>/", views.department_edit, name="department_edit"),
    path("departments/<int:pk>/delete/", views.department_remove, name="department_delete"),
]
