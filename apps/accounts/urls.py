from django.urls import path

from . import views

app_name = "accounts"
# Client workspace pages (under /c/<slug>/settings/).
urlpatterns = [
    path("members/", views.members, name="members"),
    path("members/<int:pk>/remove/", views.membership_remove, name="membership_remove"),
    path("invitations/<int:pk>/cancel/", views.invitation_cancel, name="invitation_cancel"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
