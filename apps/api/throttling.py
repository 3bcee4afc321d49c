from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (and per signed-in user for session calls)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        access = getattr(request._request, "access", None)
        if access is None:
            return None
        if access.api_key is not None:
            ident = f"key:{access.api_key.prefix}"
        elif access.user is not None:
            ident = f"user:{access.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}
