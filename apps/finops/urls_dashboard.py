"""Portal routes of the FinOps dashboard, included by apps.finops.urls."""

urlpatterns: list = []
