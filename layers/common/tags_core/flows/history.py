"""Each object's tag history, kept from the table's stream: one entry per tag attached to or detached from an
object, with who made the write (`actor`: the API key id, `queue:<message id>`, or null when the write records
none) and through what (`source`: api, queue, bulk, merge, cleanup), as the tag set's write recorded them
(`updated_by`, `last_source`).

Idempotent under redelivery: an entry's key is the set's version after the write and the entry's position in it,
so a retried record puts the same items again. Entries expire (the table's TTL) `HISTORY_RETENTION_DAYS` after
their write. Within one write, the detachments come first (a replace_in_group swap: the old tag, then the new),
so newest first lists the attachments of a write before its detachments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tags_core.settings import get_settings
from tags_core.store.history import HistoryStore
from tags_core.store.keys import LAST_SOURCE, MOVED_NAMES, history_item
from tags_core.store.tags import TagStore

SOURCES = ("api", "queue", "bulk", "merge", "cleanup")
DAY = 86_400


def entries(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The history entries of one tag-set change (pure): detached then attached, each sorted by tag id."""
    if new is None or (old is not None and old.get("version") == new.get("version")):
        return []  # a set is never deleted; a write that does not move the version is not a change of tags
    before = set((old or {}).get("tags") or {})
    after = set(new.get("tags") or {})
    stamped = old is None or new.get("updated_at") != old.get("updated_at")
    actor = new.get("updated_by") if stamped else None
    source = new.get(LAST_SOURCE) if new.get(LAST_SOURCE) in SOURCES else "api"
    return ([{"at": new.get("updated_at"), "action": "detached", "tag_id": tag_id, "actor": actor, "source": source}
             for tag_id in sorted(before - after)]
            + [{"at": new.get("updated_at"), "action": "attached", "tag_id": tag_id, "actor": actor,
                "source": source} for tag_id in sorted(after - before)])


def record(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """Write the history entries of one tag-set change, with the tags' names as the write recorded them (else,
    for a write that recorded none, as the live tags have them now; null for a tag gone meanwhile)."""
    found = entries(old, new)
    if not found or new is None:
        return
    tenant, kind, object_id, version = new["tenant"], new["kind"], new["object_id"], int(new["version"])
    names = dict(new.get(MOVED_NAMES) or {})
    unnamed = [e["tag_id"] for e in found if e["tag_id"] not in names]
    if unnamed:
        names.update({i: t["name"] for i, t in TagStore().get_tags(tenant, unnamed).items()})
    expires = _epoch(new.get("updated_at")) + get_settings().history_retention_days * DAY
    items = [history_item(tenant, kind, object_id, version, n, {**entry, "name": names.get(entry["tag_id"])},
                          expires) for n, entry in enumerate(found)]
    HistoryStore().put_entries(items)


def _epoch(at: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return int(datetime.now(UTC).timestamp())
