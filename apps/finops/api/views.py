"""FinOps API: billing sources, runs, uploads, cost records, explorer, FOCUS export."""

urlpatterns: list = []
