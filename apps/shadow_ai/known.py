"""What counts as AI spend on a bill, as data: the known AI services and model SKUs (docs/shadow-ai.md lists them).

A ledger row is AI spend when its FOCUS ServiceCategory is "AI and Machine Learning", or its service name matches
one of KNOWN_SERVICES' patterns (some clouds file Bedrock or Azure OpenAI under other categories), or its model
column is set, or its SKU meter or charge description names a model or token meter (MODEL_SKU_PATTERNS).

Patterns are SQL ILIKE patterns (% any text, case-insensitive). The first service whose pattern matches names the
provider Keel pre-fills and the asset kind it suggests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MODEL, AGENT, ENDPOINT, INTEGRATION = "model", "agent", "endpoint", "integration"
SUGGESTABLE_KINDS = (MODEL, AGENT, ENDPOINT, INTEGRATION)


@dataclass(frozen=True)
class KnownService:
    label: str
    patterns: tuple[str, ...]  # ILIKE patterns on the ledger's ServiceName
    provider: str  # as inventory models name providers (the price catalog's names)
    kind: str  # the asset kind a resource of this service usually is


KNOWN_SERVICES: tuple[KnownService, ...] = (
    # Azure first: "Azure OpenAI" must not be read as OpenAI's own API.
    KnownService("Azure OpenAI", ("azure openai%",), "azure", ENDPOINT),
    KnownService("Azure AI Foundry", ("%ai foundry%",), "azure_ai", ENDPOINT),
    KnownService("Azure AI services", ("azure ai services%", "%cognitive services%"), "azure", ENDPOINT),
    KnownService("Azure Machine Learning", ("azure machine learning%",), "azure", ENDPOINT),
    KnownService("Amazon Bedrock", ("%bedrock%",), "bedrock", MODEL),
    KnownService("Amazon SageMaker", ("%sagemaker%",), "sagemaker", ENDPOINT),
    KnownService(
        "AWS AI services",
        (
            "amazon comprehend%",
            "amazon textract%",
            "amazon rekognition%",
            "amazon transcribe%",
            "amazon polly%",
            "amazon translate%",
            "amazon lex%",
            "amazon kendra%",
            "amazon q%",
        ),
        "aws",
        MODEL,
    ),
    KnownService("Vertex AI", ("vertex ai%",), "vertex_ai", ENDPOINT),
    KnownService("Gemini API", ("gemini%", "generative language api%"), "gemini", MODEL),
    KnownService("OpenAI", ("openai%",), "openai", MODEL),
    KnownService("Anthropic", ("claude%", "anthropic%"), "anthropic", MODEL),
    KnownService("Mistral AI", ("mistral%",), "mistral", MODEL),
    KnownService("Cohere", ("cohere%",), "cohere", MODEL),
    KnownService("Groq", ("groq%",), "groq", MODEL),
    KnownService("Together AI", ("together ai%",), "together_ai", MODEL),
    KnownService("Fireworks AI", ("fireworks%",), "fireworks_ai", MODEL),
    KnownService("Perplexity", ("perplexity%",), "perplexity", MODEL),
    KnownService("DeepSeek", ("deepseek%",), "deepseek", MODEL),
    KnownService("xAI", ("xai %", "grok%"), "xai", MODEL),
    KnownService("IBM watsonx.ai", ("%watsonx%",), "watsonx", MODEL),
    KnownService("Hugging Face", ("hugging face%", "huggingface%"), "huggingface", ENDPOINT),
    KnownService("Replicate", ("replicate%",), "replicate", MODEL),
    KnownService("OpenRouter", ("openrouter%",), "openrouter", MODEL),
    KnownService("Databricks Model Serving", ("%model serving%",), "databricks", ENDPOINT),
    KnownService("Self-hosted model", ("self-hosted model%",), "self-hosted", MODEL),
)

# On the SKU meter or the charge description: meters that only AI services have.
MODEL_SKU_PATTERNS: tuple[str, ...] = (
    "%gpt-%",
    "%claude%",
    "%gemini%",
    "%llama%",
    "%mistral%",
    "%titan%",
    "%command-r%",
    "%input tokens%",
    "%output tokens%",
    "%text tokens%",
)


def service_patterns() -> list[str]:
    return [pattern for service in KNOWN_SERVICES for pattern in service.patterns]


def _like_regex(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern), re.I | re.S)


@lru_cache(maxsize=1024)
def known_service(service_name: str) -> KnownService | None:
    """The first known AI service whose pattern matches the ledger's ServiceName, or None."""
    for service in KNOWN_SERVICES:
        if any(_like_regex(pattern).fullmatch(service_name or "") for pattern in service.patterns):
            return service
    return None
