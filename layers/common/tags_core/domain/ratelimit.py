"""Write budgets.

Per key and object: a sliding window, read with the write's other items and spent inside the write's own
transaction (a bulk change spends it too, object by object, in each object's own transaction). The budget item
holds the times (epoch milliseconds) of the key's accepted writes to the object that are still inside the window. A
write is accepted when fewer than `limit` of them are at most `window` seconds old, so no closed span of `window`
seconds ever holds more than `limit` accepted writes. The new list is written in the same transaction, on condition
that nobody changed it since it was read.

Per tenant, for bulk changes: the objects its bulk requests may change per fixed window (BULK_OBJECTS_PER_WINDOW
per BULK_WINDOW_SECONDS), one counter spent when a request is accepted, before any object is touched
(docs/api.md, "Changing many objects at once"). A counter, not a list of times: one request spends up to 1,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tags_core import clock, outcomes
from tags_core.errors import RateLimited
from tags_core.settings import get_settings
from tags_core.store.bulk_jobs import bulk_budget
from tags_core.store.tag_sets import budget_key, write_budget


@dataclass(frozen=True)
class Budget:
    """A key's write budget on one object, as read at `now` (ms)."""

    tenant: str
    key_id: str
    kind: str
    object_id: str
    limit: int
    window: int  # seconds
    writes: tuple[int, ...]  # accepted writes still inside the window, oldest first (ms)
    seq: int  # the stored item's sequence number (0: none stored)
    now: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - len(self.writes))

    @property
    def reset(self) -> int:
        """Seconds until the oldest counted write leaves the window (one more write is then allowed); 0: none."""
        if not self.writes:
            return 0
        return max(1, -(-(self.writes[0] + self.window * 1000 + 1 - self.now) // 1000))

    def charge(self) -> dict[str, Any]:
        """The transaction action that spends one write now; raises RateLimited when none is left."""
        if not self.remaining:
            raise self.refused()
        writes = [*self.writes, self.now]
        expires_at = self.now // 1000 + self.window + 60  # the table's TTL; reads ignore older writes anyway
        return write_budget(self.tenant, self.key_id, self.kind, self.object_id, writes, self.seq, expires_at)

    def spent(self) -> Budget:
        """The budget after the charge was committed."""
        return Budget(self.tenant, self.key_id, self.kind, self.object_id, self.limit, self.window,
                      (*self.writes, self.now), self.seq + 1, self.now)

    def headers(self) -> dict[str, str]:
        """IETF httpapi rate-limit headers (draft 07): the policy, and the remaining budget with its reset."""
        return {"RateLimit-Policy": f"{self.limit};w={self.window}",
                "RateLimit": f"limit={self.limit}, remaining={self.remaining}, reset={self.reset}"}

    def refused(self) -> RateLimited:
        outcomes.count(outcomes.RATE_LIMITED_WRITES)
        retry_after = self.reset or 1
        return RateLimited(
            f"Too many writes to this object with this key; at most {self.limit} in any {self.window} s.",
            retry_after=retry_after,
            headers={**self.headers(), "RateLimit-Limit": str(self.limit), "RateLimit-Remaining": "0",
                     "RateLimit-Reset": str(retry_after)})


def key(tenant: str, key_id: str, kind: str, object_id: str) -> dict[str, Any]:
    """The key of the budget item, to read it in the batch the write makes anyway."""
    return budget_key(tenant, key_id, kind, object_id)


def budget(tenant: str, key_id: str, kind: str, object_id: str, item: dict[str, Any] | None) -> Budget:
    """The budget from its item as read (None: no write recorded), at the clock's current time."""
    settings = get_settings()
    now = int(clock.now() * 1000)
    oldest = now - settings.rate_limit_window_seconds * 1000
    writes = tuple(sorted(int(t) for t in (item or {}).get("writes") or [] if int(t) >= oldest))
    return Budget(tenant, key_id, kind, object_id, settings.rate_limit_writes, settings.rate_limit_window_seconds,
                  writes, int((item or {}).get("seq") or 0), now)


def _bulk_window(now: float) -> tuple[int, int]:
    size = get_settings().bulk_window_seconds
    start = int(now) // size * size
    return start, start + size


def charge_bulk(tenant: str, objects: int) -> dict[str, Any]:
    """The action that spends `objects` of the tenant's bulk budget of the current window."""
    return bulk_budget(tenant, _bulk_window(clock.now()), objects, get_settings().bulk_objects_per_window)


def bulk_refused(objects: int) -> RateLimited:
    settings = get_settings()
    now = clock.now()
    _, end = _bulk_window(now)
    retry_after = max(1, int(end - now + 0.999))
    limit = settings.bulk_objects_per_window
    return RateLimited(
        f"This request's {objects} objects exceed the account's bulk budget of {limit} objects per "
        f"{settings.bulk_window_seconds} s.", retry_after=retry_after)
