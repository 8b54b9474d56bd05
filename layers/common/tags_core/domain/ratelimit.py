"""Write budgets, fixed window counters. Per key and object: spent inside the write's own transaction (a bulk
change spends it too, object by object). Per tenant, for bulk changes: the objects its bulk requests may change per
window, spent when a request is accepted (docs/api.md, "Changing many objects at once")."""

from __future__ import annotations

import time
from typing import Any

from tags_core.errors import RateLimited
from tags_core.settings import get_settings
from tags_core.store.bulk_jobs import bulk_budget
from tags_core.store.tag_sets import write_budget


def _window(now: float, size: int | None = None) -> tuple[int, int]:
    size = size or get_settings().rate_limit_window_seconds
    start = int(now) // size * size
    return start, start + size


def charge_bulk(tenant: str, objects: int) -> dict[str, Any]:
    """The action that spends `objects` of the tenant's bulk budget of the current window."""
    settings = get_settings()
    return bulk_budget(tenant, _window(time.time(), settings.bulk_window_seconds), objects,
                       settings.bulk_objects_per_window)


def bulk_refused(objects: int) -> RateLimited:
    settings = get_settings()
    now = time.time()
    _, end = _window(now, settings.bulk_window_seconds)
    retry_after = max(1, int(end - now + 0.999))
    limit = settings.bulk_objects_per_window
    return RateLimited(
        f"This request's {objects} objects exceed the account's bulk budget of {limit} objects per "
        f"{settings.bulk_window_seconds} s.", retry_after=retry_after,
        headers={"RateLimit-Limit": str(limit), "RateLimit-Reset": str(retry_after)})


def charge(tenant: str, key_id: str, kind: str, object_id: str) -> dict[str, Any]:
    """The action that spends one write of the current window (it fails once the budget is spent)."""
    return write_budget(tenant, key_id, kind, object_id, _window(time.time()), get_settings().rate_limit_writes)


def refused() -> RateLimited:
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
