"""What follows a committed write, driven by the table's stream: derived views and clean-up.

- The reverse index (objects carrying a tag) follows every change of an object's tag set.
- A deleted tag is removed from the tag sets that still list it (reads already hide it), and its reverse
  index entries go with it.

Every step is idempotent: a record processed twice, or a retried batch, leaves the same state.
"""

from __future__ import annotations

import logging
from typing import Any

from tags_core import db
from tags_core.repository import Repository

logger = logging.getLogger("tags.stream")


def images(record: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    return (db.from_item(old) if old else None), (db.from_item(new) if new else None)


def handle_record(record: dict[str, Any]) -> None:
    old, new = images(record)
    item = new or old or {}
    item_type = item.get("item_type")
    if item_type == "tag_set":
        sync_reverse_index(old, new)
    elif item_type == "tag" and old is not None and new is None:
        finish_tag_deletion(old)


def sync_reverse_index(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    ref = new or old or {}
    tenant, kind, object_id = ref["tenant"], ref["kind"], ref["object_id"]
    before = (old or {}).get("tags") or {}
    after = (new or {}).get("tags") or {}
    repo = Repository()
    added = {tag_id: at for tag_id, at in after.items() if tag_id not in before}
    removed = [tag_id for tag_id in before if tag_id not in after]
    repo.write_reverse_entries(tenant, kind, object_id, added=added, removed=removed)


def finish_tag_deletion(tag: dict[str, Any]) -> None:
    """Prune a deleted tag from every object that still lists it, a page of the reverse index at a time."""
    repo = Repository()
    tenant, tag_id = tag["tenant"], tag["id"]
    start: dict[str, Any] | None = None
    pruned = 0
    while True:
        entries, start = repo.query_reverse(tenant, tag_id, None, 100, start)
        for entry in entries:
            repo.prune_deleted_tag(tenant, entry["kind"], entry["object_id"], tag_id)
            pruned += 1
        if not start:
            break
    logger.info("deleted tag pruned", extra={"tenant": tenant, "tag_id": tag_id, "objects": pruned})
