"""An object's tag history: what was attached and detached, when, by whom and through what, newest first.

Written from the table's stream (tags_core.flows.history), so it may lag a write slightly; kept for the
retention the template sets (HistoryRetentionDays, default 90 days).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing
from tags_core.domain.objects import check_object_id
from tags_core.store.history import HistoryStore


def present(entry: dict[str, Any]) -> dict[str, Any]:
    return {"at": entry["at"], "action": entry["action"], "tag": {"id": entry["tag_id"], "name": entry.get("name")},
            "actor": entry.get("actor"), "source": entry["source"]}


def object_history(principal: Principal, kind: str, object_id: str, limit: int,
                   start: Callable[[], dict[str, Any] | None]) -> Listing:
    object_id = check_object_id(object_id)
    items, last = HistoryStore().list_entries(principal.tenant, kind, object_id, limit, start())
    return Listing([present(item) for item in items], None, last)
