app_name = "runaway"
urlpatterns: list = []
