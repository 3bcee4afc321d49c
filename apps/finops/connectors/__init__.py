"""Registry of billing connectors: source kind → connector class (imported on first use)."""

from __future__ import annotations

from importlib import import_module

from .base import Connector

CONNECTORS: dict[str, str] = {
    "aws_cost_explorer": "apps.finops.connectors.aws:CostExplorerConnector",
    "aws_data_export": "apps.finops.connectors.aws:DataExportConnector",
    "azure_cost_query": "apps.finops.connectors.azure:CostQueryConnector",
    "azure_export": "apps.finops.connectors.azure:ExportConnector",
    "gcp_bigquery": "apps.finops.connectors.gcp:BigQueryConnector",
    "openai": "apps.finops.connectors.openai:OpenAIConnector",
    "anthropic": "apps.finops.connectors.anthropic:AnthropicConnector",
    "focus_upload": "apps.finops.connectors.focus_file:FocusUploadConnector",
    "usage_events": "apps.finops.connectors.focus_file:UsageEventsConnector",
}

_cache: dict[str, Connector] = {}


def connector_for(kind: str) -> Connector:
    if kind not in _cache:
        module_name, _, class_name = CONNECTORS[kind].partition(":")
        _cache[kind] = getattr(import_module(module_name), class_name)()
    return _cache[kind]
