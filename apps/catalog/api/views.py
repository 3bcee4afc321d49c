"""MSP-level, read-only API of the shared model price catalog: /api/v1/model-catalog/."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from apps.accounts.roles import Cap
from apps.api.pagination import KeelCursorPagination

from ..selectors import catalog_entries_list
from .serializers import CatalogQuerySerializer, ModelPriceDetailSerializer, ModelPriceSerializer

GPT_4O = {
    "key": "gpt-4o",
    "litellm_provider": "openai",
    "mode": "chat",
    "input_cost_per_token": "0.0000025",
    "output_cost_per_token": "0.00001",
    "cache_read_input_token_cost": "0.00000125",
    "cache_creation_input_token_cost": None,
    "max_input_tokens": 128000,
    "max_output_tokens": 16384,
    "deprecation_date": None,
    "source": "https://developers.openai.com/api/docs/pricing",
    "updated_at": "2026-11-23T04:52:54Z",
}
SONNET_ON_BEDROCK = {
    "key": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "litellm_provider": "bedrock",
    "mode": "chat",
    "input_cost_per_token": "0.000003",
    "output_cost_per_token": "0.000015",
    "cache_read_input_token_cost": "0.0000003",
    "cache_creation_input_token_cost": "0.00000375",
    "max_input_tokens": 200000,
    "max_output_tokens": 4096,
    "deprecation_date": None,
    "source": "",
    "updated_at": "2026-11-23T04:52:54Z",
}
LIST_PARAMETERS = [
    OpenApiParameter("search", str, description="Part of the catalog key, any case (`gpt-4o`, `claude`)."),
    OpenApiParameter(
        "provider",
        str,
        description=(
            "A provider as people write it (`openai`, `azure`, `AWS Bedrock`, `google`, `vertex_ai`, `gemini`): "
            "entries whose `litellm_provider` is in that provider's family (bedrock includes bedrock_converse; "
            "vertex_ai includes vertex_ai-language-models …)."
        ),
    ),
    OpenApiParameter("mode", str, description="`chat`, `embedding`, `image_generation`, `audio_transcription` …"),
    OpenApiParameter(
        "deprecated_before",
        OpenApiTypes.DATE,
        description="Only entries with a deprecation date strictly before this day (YYYY-MM-DD).",
    ),
]


class KeyCursorPagination(KeelCursorPagination):
    ordering = "key"


@extend_schema_view(
    list=extend_schema(
        parameters=LIST_PARAMETERS,
        examples=[OpenApiExample("gpt-4o", value=GPT_4O, response_only=True)],
    ),
    retrieve=extend_schema(
        description="One entry by its catalog key, with the file's whole entry (`raw`) and the release it last "
        "changed in.",
        parameters=[
            OpenApiParameter(
                "key",
                str,
                OpenApiParameter.PATH,
                description="The catalog key as is; keys may hold `/`, `.` and `:` (`azure/gpt-4o`, "
                "`bedrock/us-gov-west-1/anthropic.claude-sonnet-4-5-20250929-v1:0`).",
            )
        ],
        examples=[
            OpenApiExample(
                "Claude on Bedrock",
                value=SONNET_ON_BEDROCK
                | {
                    "raw": {
                        "litellm_provider": "bedrock",
                        "mode": "chat",
                        "input_cost_per_token": "0.000003",
                        "output_cost_per_token": "0.000015",
                        "max_input_tokens": 200000,
                        "supports_function_calling": True,
                    },
                    "release": {
                        "source": "model_prices_and_context_window_backup.json",
                        "sha256": "8f8060d8ce7a40c91b995c74d6a27657543d49e3c1c53430dabd556f244392c6",
                        "entry_count": 4552,
                        "loaded_at": "2026-11-23T04:52:54Z",
                    },
                },
                response_only=True,
            )
        ],
    ),
)
class ModelPriceViewSet(viewsets.ReadOnlyModelViewSet):
    """The shared model price catalog (LiteLLM's keys): list prices in USD per token as decimal strings, context
    windows and deprecation dates. MSP staff and MSP-level API keys; refreshed with `manage.py load_model_catalog`.
    """

    read_capability = Cap.CONSOLE
    lookup_field = "key"
    lookup_value_regex = ".+?"  # keys hold "/", "." and ":"
    pagination_class = KeyCursorPagination
    filter_backends = []  # filtered by catalog_entries_list, from checked query parameters

    def dispatch(self, request, *args, **kwargs):
        # Without the trailing slash, a key ending like a format suffix (zai/glm-4.5v) reaches the router's
        # format-suffix route split in two: join it back.
        if "key" in kwargs and "format" in kwargs:
            kwargs["key"] = f"{kwargs['key']}.{kwargs.pop('format')}"
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        if self.action != "list":
            return catalog_entries_list().select_related("release")
        params = CatalogQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return catalog_entries_list(**params.validated_data)

    def get_serializer_class(self):
        return ModelPriceSerializer if self.action == "list" else ModelPriceDetailSerializer
