"""Who is acting, from where, for which request: set at the edges (middleware, tasks, commands)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ActorContext:
    request_id: str = ""
    user_id: int | None = None
    user_email: str = ""
    api_key_prefix: str = ""
    ip: str = ""
    user_agent: str = ""
    source: str = "system"  # portal, api, task, command, system


_current: contextvars.ContextVar[ActorContext] = contextvars.ContextVar(
    "keel_actor",
    default=ActorContext(),  # noqa: B039 - frozen dataclass, immutable
)


def current_actor() -> ActorContext:
    return _current.get()


def actor_label() -> str:
    """Who to name in a record's created_by/approved_by: the user's e-mail, the API key, or Keel itself."""
    actor = _current.get()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else "Keel")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def acting_as(**fields) -> Iterator[ActorContext]:
    """Temporarily extend the current actor context (e.g. a task or command acting for a user)."""
    ctx = replace(_current.get(), **fields)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def set_actor(ctx: ActorContext) -> contextvars.Token:
    return _current.set(ctx)


def reset_actor(token: contextvars.Token) -> None:
    _current.reset(token)
