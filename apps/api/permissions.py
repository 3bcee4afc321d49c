from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.accounts.roles import Cap


class KeelAccessPermission(BasePermission):
    """A view states the capability it needs for reads and for writes; the access decision supplies them.

    Views set `read_capability` (default: view) and `write_capability` (default: edit). MSP-level views
    set both to `console` or a management capability.
    """

    message = "Your role or API key scopes do not allow this."

    def has_permission(self, request, view):
        access = getattr(request._request, "access", None)
        if access is None:
            return False
        if request.method in SAFE_METHODS:
            needed = getattr(view, "read_capability", Cap.VIEW)
        else:
            needed = getattr(view, "write_capability", Cap.EDIT)
            action = getattr(view, "action", None)
            needed = getattr(view, "action_capabilities", {}).get(action, needed)
        any_of = needed if isinstance(needed, tuple) else (needed,)
        return any(access.can(capability) for capability in any_of)
