from functools import wraps

from django.core.exceptions import PermissionDenied


def capability_required(capability: str):
    """Portal views state the capability they need; reach (404) was already decided by AccessMiddleware."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            access = getattr(request, "access", None)
            if access is None or not access.can(capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability
        return wrapped

    return decorator
