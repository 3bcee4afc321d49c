def include_tenant_api(endpoints, **kwargs):
    """Document both API faces; the per-client prefix /c/{client}/ is shown as a path parameter."""
    return [
        (path, path_regex, method, callback) for path, path_regex, method, callback in endpoints if "/api/v1/" in path
    ]
