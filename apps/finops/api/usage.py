"""Usage-events API (POST /usage-events)."""

urlpatterns: list = []
