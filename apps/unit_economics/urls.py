app_name = "unit_economics"
urlpatterns: list = []
