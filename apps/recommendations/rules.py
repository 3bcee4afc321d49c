"""The rules the generators apply, as data: which model is the next tier down, which models are small, what
succeeds a retiring model, which compute a commitment covers, what an AI endpoint looks like in a bill.

Model ids are matched in lower case with globs (* = anything); candidates are catalog keys of the same provider.
Among a rule's candidates the generators take the cheapest for the workload's own token mix that the catalog
knows and that does not retire within the deprecation horizon. docs/recommendations.md lists these tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class TierRule:
    provider: str  # the catalog's provider name (apps.catalog.selectors.provider_names)
    models: tuple[str, ...]  # globs of the premium model ids
    candidates: tuple[str, ...]  # catalog keys of the cheaper tier of the same family
    family: str  # in words, for the arithmetic


# Model routing: a premium model → the next tier down of the same provider ("same family tier").
ROUTING_TIERS: tuple[TierRule, ...] = (
    TierRule("openai", ("gpt-4o", "gpt-4o-2*", "chatgpt-4o*"), ("gpt-4o-mini", "gpt-4.1-mini"), "gpt-4o → gpt-4o-mini"),
    TierRule("openai", ("gpt-4.1", "gpt-4.1-2*"), ("gpt-4.1-mini", "gpt-4.1-nano"), "gpt-4.1 → gpt-4.1-mini"),
    TierRule(
        "openai",
        ("gpt-5", "gpt-5-2*", "gpt-5.1", "gpt-5.1-2*", "gpt-5.2", "gpt-5.2-2*", "gpt-5.4", "gpt-5.4-2*"),
        ("gpt-5-mini", "gpt-5.4-mini"),
        "gpt-5 → gpt-5-mini",
    ),
    TierRule("openai", ("gpt-4", "gpt-4-0*", "gpt-4-turbo*"), ("gpt-4o-mini",), "gpt-4 → gpt-4o-mini"),
    TierRule(
        "anthropic",
        ("claude-opus-*", "claude-3-opus*"),
        ("claude-sonnet-4-6", "claude-sonnet-4-5", "claude-sonnet-5"),
        "Claude Opus → Claude Sonnet",
    ),
    TierRule(
        "anthropic",
        ("claude-sonnet-*", "claude-3-5-sonnet*", "claude-3-7-sonnet*"),
        ("claude-haiku-4-5",),
        "Claude Sonnet → Claude Haiku",
    ),
    TierRule(
        "vertex_ai", ("gemini-*-pro*",), ("gemini-2.5-flash", "gemini-3-flash-preview"), "Gemini Pro → Gemini Flash"
    ),
    TierRule("gemini", ("gemini-*-pro*",), ("gemini-2.5-flash", "gemini-flash-latest"), "Gemini Pro → Gemini Flash"),
)

# Smaller models of each provider for high-volume simple tasks (the cheapest that applies is offered).
SMALL_MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o-mini", "gpt-4.1-nano", "gpt-5-nano", "gpt-5.4-nano"),
    "anthropic": ("claude-haiku-4-5",),
    "vertex_ai": ("gemini-2.5-flash-lite", "gemini-3.1-flash-lite"),
    "gemini": ("gemini-2.5-flash-lite", "gemini-flash-lite-latest"),
}


@dataclass(frozen=True)
class SuccessorRule:
    provider: str
    models: tuple[str, ...]
    candidates: tuple[str, ...]  # in order of preference (the first that does not retire soon wins)


# What replaces a retiring model. Without a rule, the undated alias of a dated snapshot is tried
# (gpt-4o-2024-08-06 → gpt-4o) when the catalog keeps it without a retirement date.
SUCCESSORS: tuple[SuccessorRule, ...] = (
    SuccessorRule("openai", ("gpt-4o-mini*",), ("gpt-4.1-mini", "gpt-5.4-mini")),
    SuccessorRule("openai", ("gpt-4o", "gpt-4o-2*"), ("gpt-4.1", "gpt-5.2")),
    SuccessorRule("openai", ("gpt-4.1-mini*",), ("gpt-5.4-mini",)),
    SuccessorRule("openai", ("gpt-4.1-nano*", "gpt-5-nano*"), ("gpt-5.4-nano", "gpt-4o-mini")),
    SuccessorRule("openai", ("gpt-4.1", "gpt-4.1-2*", "gpt-5", "gpt-5-2*", "gpt-5.1*"), ("gpt-5.2", "gpt-5.4")),
    SuccessorRule("openai", ("gpt-5-mini*",), ("gpt-5.4-mini",)),
    SuccessorRule("openai", ("gpt-3.5-turbo*", "gpt-4", "gpt-4-0*", "gpt-4-turbo*"), ("gpt-4o-mini", "gpt-4.1-mini")),
    SuccessorRule(
        "anthropic", ("claude-sonnet-4-5*", "claude-3-5-sonnet*", "claude-3-7-sonnet*"), ("claude-sonnet-4-6",)
    ),
    SuccessorRule("anthropic", ("claude-opus-4-*", "claude-3-opus*"), ("claude-opus-4-8", "claude-opus-4-7")),
    SuccessorRule("anthropic", ("claude-3-haiku*", "claude-3-5-haiku*"), ("claude-haiku-4-5",)),
    SuccessorRule("vertex_ai", ("gemini-2.5-flash-lite*",), ("gemini-3.1-flash-lite", "gemini-3.5-flash-lite")),
    SuccessorRule("vertex_ai", ("gemini-2.5-flash*",), ("gemini-3.8-flash", "gemini-3-flash-preview")),
    SuccessorRule("vertex_ai", ("gemini-2.5-pro*",), ("gemini-3.1-pro-preview",)),
)

DATED_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")


@dataclass(frozen=True)
class CommitmentProgram:
    services: tuple[str, ...]  # ServiceName globs (lower case)
    program: str  # what to buy, in words


# Compute a 1-year commitment covers, by the FOCUS ServiceName the providers write.
COMMITMENT_PROGRAMS: tuple[CommitmentProgram, ...] = (
    CommitmentProgram(("amazon elastic compute cloud", "aws fargate", "aws lambda"), "a 1-year Compute Savings Plan"),
    CommitmentProgram(("amazon sagemaker",), "a 1-year SageMaker Savings Plan"),
    CommitmentProgram(
        ("virtual machines", "azure app service"), "a 1-year Azure savings plan for compute (or reserved VM instances)"
    ),
    CommitmentProgram(
        ("compute engine", "kubernetes engine", "cloud run"), "a 1-year Compute Engine flexible committed use discount"
    ),
)
# Only time-priced usage is committed to (instance hours, vCPU/GiB hours): not disks, traffic or requests.
# (PostgreSQL regular expressions: no \b, so word edges are spelled out.)
TIME_PRICED = re.compile(r"(^|[^a-z])(hours?|hrs?)([^a-z]|$)", re.IGNORECASE)
# GPU or accelerator capacity, by what the bill writes in the SKU, description or resource type.
GPU = re.compile(
    r"(^|[^a-z0-9])(gpu|a100|h100|h200|b200|l4|l40s?|t4|v100|a10g?|tpu|nc[0-9]+[a-z]*|nd[0-9]+[a-z]*|nv[0-9]+[a-z]*"
    r"|g4dn|g5|g6e?|p3|p4de?|p5e?)([^a-z0-9]|$)",
    re.IGNORECASE,
)

# AI endpoints as bills name them: Vertex AI endpoints, SageMaker endpoints, Azure ML online endpoints.
ENDPOINT_RESOURCES = re.compile(
    r"(/endpoints/[^/]+$|:endpoint/[^/]+$|/onlineendpoints/[^/]+|/serverlessendpoints/[^/]+)", re.IGNORECASE
)


def model_matches(model_id: str, patterns: tuple[str, ...]) -> bool:
    folded = (model_id or "").strip().lower()
    return any(fnmatchcase(folded, pattern) for pattern in patterns)


def routing_rule(provider: str, model_id: str) -> TierRule | None:
    return next((r for r in ROUTING_TIERS if r.provider == provider and model_matches(model_id, r.models)), None)


def successor_candidates(provider: str, model_id: str) -> tuple[str, ...]:
    """Candidate successors in order: the rule's, then the undated alias of a dated snapshot."""
    rule = next((r for r in SUCCESSORS if r.provider == provider and model_matches(model_id, r.models)), None)
    candidates = list(rule.candidates) if rule else []
    alias = DATED_SUFFIX.sub("", model_id)
    if alias != model_id:
        candidates.append(alias)
    return tuple(c for c in candidates if c.lower() != model_id.lower())


def commitment_program(service_name: str) -> str:
    folded = (service_name or "").lower()
    for program in COMMITMENT_PROGRAMS:
        if any(fnmatchcase(folded, pattern) for pattern in program.services):
            return program.program
    return ""
