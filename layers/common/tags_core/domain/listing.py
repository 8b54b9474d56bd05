"""What a list asks the domain for and what it gets back: a position in the store, not HTTP's page or cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tags_core.errors import InvalidInput
from tags_core.names import name_key, normalize_name


@dataclass(frozen=True)
class Window:
    """Where a page starts: after `start` (a continued list) or after `skip` items (a page number), and its size."""

    limit: int
    skip: int = 0
    start: dict[str, Any] | None = None


@dataclass(frozen=True)
class Listing:
    """One page of a list: its items, the total when known cheaply, and the position after the last item."""

    items: list[dict[str, Any]]
    total: int | None
    last: dict[str, Any] | None


def search_prefix(q: str) -> str:
    """The index-key prefix a `q` search matches: the name rules applied to q, cut like the index sort key."""
    try:
        return name_key(normalize_name(q)).encode()[:800].decode(errors="ignore")
    except ValueError as exc:
        raise InvalidInput(f"q {exc}.", field="q") from None
