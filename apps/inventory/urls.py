from django.urls import include, path, register_converter

from . import views
from .models import AssetKind


class AssetKindConverter:
    """Only the registered kinds: /inventory/new/agent/ exists, /inventory/new/x/ is a plain 404."""

    regex = "|".join(AssetKind.values)

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AssetKindConverter, "asset_kind")

app_name = "inventory"
urlpatterns = [
    path("", views.asset_list, name="assets"),
    path("", include("apps.inventory.urls_transfer")),
    path("bulk/", views.asset_bulk, name="bulk"),
    path("new/<asset_kind:kind>/", views.asset_new, name="asset_new"),
    path("assets/<int:pk>/", views.asset_detail, name="asset"),
    path("assets/<int:pk>/edit/", views.asset_edit, name="asset_edit"),
    path("assets/<int:pk>/delete/", views.asset_remove, name="asset_delete"),
    path("assets/<int:pk>/tools/new/", views.tool_edit, name="tool_new"),
    path("assets/<int:pk>/tools/<int:tool_pk>/", views.tool_edit, name="tool_edit"),
    path("assets/<int:pk>/tools/<int:tool_pk>/delete/", views.tool_remove, name="tool_delete"),
    path("assets/<int:pk>/versions/new/", views.prompt_version_new, name="version_new"),
    path("assets/<int:pk>/relations/new/", views.relation_new, name="relation_new"),
    path("assets/<int:pk>/relations/<int:relation_pk>/delete/", views.relation_remove, name="relation_delete"),
    path("dependencies/", views.dependencies, name="dependencies"),
    path("findings/", views.findings, name="findings"),
    path("departments/", views.department_list, name="departments"),
    path("departments/new/", views.department_edit, name="department_new"),
    path("departments/<int:pk>/", views.department_edit, name="department_edit"),
    path("departments/<int:pk>/delete/", views.department_remove, name="department_delete"),
]
