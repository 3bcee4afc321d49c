"""The OpenAPI document: public, valid OpenAPI 3, both API faces, the API-key scheme; the docs page renders."""

from __future__ import annotations

import json

import pytest
import yaml
from drf_spectacular.validation import validate_schema

from apps.accounts.roles import Role
from tests.conftest import make_user


@pytest.fixture
def document(client, db) -> dict:
    response = client.get("/api/schema/")  # signed out: the description is public
    assert response.status_code == 200
    assert "openapi" in response["Content-Type"]
    return yaml.safe_load(response.content)


def test_the_document_is_valid_openapi_3(document):
    assert str(document["openapi"]).startswith("3")
    assert document["info"]["title"] == "Keel API" and document["info"]["version"]
    validate_schema(document)  # the official OpenAPI 3 JSON Schema that drf-spectacular ships


def test_the_json_rendering_is_the_same_document(client, document):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert json.loads(response.content) == json.loads(json.dumps(document, default=str))


def test_both_api_faces_are_described(document):
    paths = document["paths"]
    assert "/api/v1/clients/" in paths and "/api/v1/alerts/" in paths
    assert "/c/{client}/api/v1/alerts/" in paths
    assert "/c/{client}/api/v1/alerts/{id}/acknowledge/" in paths
    assert "/c/{client}/api/v1/api-keys/" in paths
    assert all(p.startswith(("/api/v1/", "/c/{client}/api/v1/")) for p in paths), "portal routes leaked in"
    client_param = next(p for p in paths["/c/{client}/api/v1/alerts/"]["get"]["parameters"] if p["name"] == "client")
    assert client_param["in"] == "path" and client_param["required"] is True


def test_every_operation_accepts_the_api_key_scheme(document):
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert {"ApiKeyAuth": []} in operation.get("security", document.get("security", [])), (path, method)


def test_every_reference_resolves(document):
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in set(refs(document)):
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert target, ref


def test_the_docs_page_renders(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content.lower() and b"/api/schema/" in response.content


def test_the_document_does_not_depend_on_who_asks(client, alpha, document, login_as):
    engineer = login_as(make_user("schema@msp.test", role=Role.ENGINEER, client=alpha))
    assert yaml.safe_load(engineer.get("/api/schema/").content) == document
