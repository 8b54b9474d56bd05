"""Per key and object write budget: a fixed window counter, spent inside the write's own transaction."""

from __future__ import annotations

import time
from typing import Any

from tags_core import outcomes
from tags_core.errors import RateLimited
from tags_core.settings import get_settings
from tags_core.store.tag_sets import write_budget


def _window(now: float) -> tuple[int, int]:
    size = get_settings().rate_limit_window_seconds
    start = int(now) // size * size
    return start, start + size


def charge(tenant: str, key_id: str, kind: str, object_id: str) -> dict[str, Any]:
    """The action that spends one write of the current window (it fails once the budget is spent)."""
    return write_budget(tenant, key_id, kind, object_id, _window(time.time()), get_settings().rate_limit_writes)


def refused() -> RateLimited:
    outcomes.count(outcomes.RATE_LIMITED_WRITES)
    now = time.time()
    _, end = _window(now)
    retry_after = max(1, int(end - now + 0.999))
    limit = get_settings().rate_limit_writes
    return RateLimited(
        f"Too many writes to this object with this key; at most {limit} per "
        f"{get_settings().rate_limit_window_seconds} s.",
        retry_after=retry_after,
        headers={"RateLimit-Limit": str(limit), "RateLimit-Remaining": "0", "RateLimit-Reset": str(retry_after)},
    )
