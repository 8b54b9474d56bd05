"""What a route reads of the request being handled: the caller, the path as called, headers, If-Match."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from tags_core.domain.identity import Principal
from tags_core.errors import InvalidInput
from tags_core.http.identity import principal_from_event


def principal() -> Principal:
    """The caller of the request being handled (from the authorizer context only)."""
    return principal_from_event(BaseRouter.current_event.raw_event)


def request_path() -> str:
    """The path as the client called it (with the stage or base path), for links in list responses."""
    event = BaseRouter.current_event.raw_event
    return ((event.get("requestContext") or {}).get("path")) or event.get("path") or "/"


def header(name: str) -> str | None:
    return BaseRouter.current_event.headers.get(name) or BaseRouter.current_event.headers.get(name.lower())


def if_match() -> int | None:
    """The version in `If-Match: "<version>"` (weak or bare forms accepted), or None when absent or `*`."""
    raw = header("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 12:  # "²".isdigit(), but int("²") fails
        raise InvalidInput('If-Match must be a version in quotes, like "3".', field="If-Match",
                           code="invalid_header")
    return int(value)
