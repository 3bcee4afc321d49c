"""DRF reads the access decision AccessMiddleware already made; nothing is decided twice."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication


class ApiKeyUser:
    """Stands in for request.user when a call is made with an API key."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_msp_staff = False
    pk = None
    id = None

    def __init__(self, api_key):
        self.api_key = api_key
        self.email = ""

    def __str__(self):
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        access = getattr(request._request, "access", None)
        if access is None or access.api_key is None:
            return None
        return ApiKeyUser(access.api_key), access.api_key

    def authenticate_header(self, request):
        return 'Api-Key realm="keel"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key keel_<prefix>_<secret>` — create keys in the client workspace.",
        }
