"""What follows a committed write, driven by the table's stream: derived views, clean-up, change events.

- The reverse index (objects carrying a tag) follows every change of an object's tag set.
- A deleted tag is removed from the tag sets that still list it (reads already hide it), and its reverse
  index entries go with it.
- Then the record's change events are published (tags_core.flows.change_events): only once the work above is done, so a
  consumer reacting to an event sees the derived views up to date.

Every step is idempotent: a record processed twice, or a retried batch, leaves the same state (and publishes
the same events, with the same ids, again).

Records of one item are handled in order (`InOrderProcessor`): after a record fails, the later records of the
same item in the batch are reported failed without running, so the retry publishes their events after its own.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from tags_core import outcomes
from tags_core.flows.change_events import build_events, images, publish
from tags_core.observability import logger
from tags_core.store import keys
from tags_core.store.tag_sets import TagSetStore

__all__ = ["InOrderProcessor", "finish_tag_deletion", "handle_record", "images", "sync_reverse_index"]


def handle_record(record: dict[str, Any]) -> None:
    old, new = images(record)
    item = new or old or {}
    item_type = keys.item_type(item)
    if item_type == keys.TAG_SET:
        sync_reverse_index(old, new)
    elif item_type == keys.TAG and old is not None and new is None:
        finish_tag_deletion(old)
    publish(build_events(record))
    outcomes.count(outcomes.STREAM_RECORDS_PROCESSED)


class SkippedAfterFailure(Exception):
    """An earlier record of the same item failed in this batch; this one waits for its retry."""


class InOrderProcessor(BatchProcessor):
    """Powertools' partial-failure processor for DynamoDB streams, in order per item.

    Lambda retries a stream batch from its first failed record anyway; skipping the later records of a failed
    item keeps that item's events in order (other items go on, and are published again by the retry: events
    carry stable ids for that). An all-failed batch is reported like any other, not raised.
    """

    _skipped = (SkippedAfterFailure, SkippedAfterFailure("an earlier record of this item failed"), None)

    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self._failed_items: set[str] = set()

    def _prepare(self) -> None:
        super()._prepare()
        self._failed_items = set()

    def _process_record(self, record: dict) -> Any:
        item = json.dumps((record.get("dynamodb") or {}).get("Keys"), sort_keys=True)
        if item in self._failed_items:
            data = self._to_batch_type(record=record, event_type=self.event_type, model=self.model)
            return self.failure_handler(record=data, exception=self._skipped)
        result = super()._process_record(record)
        if result[0] == "fail":
            self._failed_items.add(item)
            outcomes.count(outcomes.STREAM_RECORDS_FAILED)
            logger.warning("stream record failed", extra={"event_id": record.get("eventID"), "error": result[2]})
        return result


def sync_reverse_index(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    ref = new or old or {}
    tenant, kind, object_id = ref["tenant"], ref["kind"], ref["object_id"]
    before = (old or {}).get("tags") or {}
    after = (new or {}).get("tags") or {}
    repo = TagSetStore()
    added = {tag_id: at for tag_id, at in after.items() if tag_id not in before}
    removed = [tag_id for tag_id in before if tag_id not in after]
    repo.write_reverse_entries(tenant, kind, object_id, added=added, removed=removed)


def finish_tag_deletion(tag: dict[str, Any]) -> None:
    """Prune a deleted tag from every object that still lists it, a page of the reverse index at a time."""
    repo = TagSetStore()
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
