from functools import wraps

from django.core.exceptions import PermissionDenied


def capability_required(*capabilities: str):
    """Portal views state the capability they need (or several, any of which will do: the incident register
    is read by the workspace's people and by auditors); reach (404) was already decided by AccessMiddleware."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            access = getattr(request, "access", None)
            if access is None or not any(access.can(capability) for capability in capabilities):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_capability = capabilities[0] if len(capabilities) == 1 else capabilities
        return wrapped

    return decorator
