app_name = "shadow_ai"
urlpatterns: list = []
