"""Portal routes of allocation rules and the ledger-rows drill-down, included by apps.finops.urls."""

urlpatterns: list = []
