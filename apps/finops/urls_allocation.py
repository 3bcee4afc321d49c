"""Portal routes of allocation rules and the ledger-rows drill-down, included by apps.finops.urls."""

from django.urls import path

from . import views_allocation as views

urlpatterns = [
    path("allocation/", views.allocation, name="allocation"),
    path("allocation/rules/new/", views.rule_new, name="allocation_rule_new"),
    path("allocation/rules/<int:pk>/edit/", views.rule_edit, name="allocation_rule_edit"),
    path("allocation/rules/<int:pk>/delete/", views.rule_delete, name="allocation_rule_delete"),
    path("allocation/rules/<int:pk>/move/", views.rule_move, name="allocation_rule_move"),
    path("ledger/", views.ledger, name="ledger"),
]
