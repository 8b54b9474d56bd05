"""Change events: what each committed write means to the outside world, published on the service's EventBridge bus.

The table's stream is the only source: `build_events` turns one stream record into the events it stands for (a
pure function, so a retried record yields the same events with the same ids), `publish` sends them. Types:

    tag.created, tag.updated, tag.deleted, tag.merged      from a tag item (INSERT, MODIFY, REMOVE)
    tag.attached, tag.detached                             from the diff of an object's tag set
    tag_group.created, tag_group.updated, tag_group.deleted from a group item

What produces no event: items that are storage detail (name locks, reverse index, tenants, keys, idempotency
records), usage counts moving on a tag or the tag count on a group (the tag-set diff reports attachments), a tag
being marked for a merge, and the clean-up that drops a deleted tag from objects' sets (tag.deleted said it).

Every detail carries `event_id` ("<stream sequence number>-<n>", stable across retries: consumers de-duplicate
the at-least-once delivery with it), `tenant`, the ids, `actor` (the API key id recorded on the write, null when
the write records none) and `time` (RFC 3339, the write's `updated_at`, else the stream record's time).
`tag.attached` and `tag.detached` also carry `source`: what the write came through, as the tag set's `last_source`
recorded it ("api", "queue" for the command queue, "bulk" for POST /{kind}/tags/bulk, "merge" for a merge's move;
"api" for a set written before sources were recorded; null for a write that records no writer).
docs/events.md is the reference for consumers.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from tags_core import outcomes
from tags_core.clock import rfc3339
from tags_core.observability import logger
from tags_core.settings import get_settings
from tags_core.store import client as db
from tags_core.store import keys
from tags_core.store.codec import from_item

SOURCE = "tags.service"
LOCAL_BUS = "local"
MAX_ENTRIES = 10  # PutEvents accepts at most 10 entries per call
PUT_ATTEMPTS = 3  # entries EventBridge did not accept are sent again this often before the record fails
TAG_FIELDS = ("name", "type", "group_id", "applies_to", "color", "description")  # what a client can change
TAG_CHANGES = (*TAG_FIELDS, "archived_at")  # what tag.updated reports: also an archive or a restore
GROUP_FIELDS = ("name", "description")

Event = tuple[str, dict[str, Any]]  # (detail-type, detail)
Image = dict[str, Any] | None


class PublishError(Exception):
    """EventBridge did not accept every event of a record: the record fails and is retried."""


# --- building: stream record -> events -------------------------------------------------------------------------

def images(record: dict[str, Any]) -> tuple[Image, Image]:
    """The old and new item of a stream record, as plain values."""
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    return (from_item(old) if old else None), (from_item(new) if new else None)


def record_time(record: dict[str, Any]) -> str | None:
    """The stream record's ApproximateCreationDateTime (Lambda sends epoch seconds; boto3 a datetime)."""
    value = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return rfc3339(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # tolerate milliseconds
        return rfc3339(datetime.fromtimestamp(seconds, UTC))
    return None


def _stamp(old: Image, new: Image, fallback: str | None) -> tuple[str | None, str | None]:
    """(actor, time) of the write: what it recorded (updated_by/updated_at moved with it), else (None, fallback)."""
    if new is None:
        assert old is not None
        return old.get("deleted_by"), old.get("deleted_at") or fallback or old.get("updated_at")
    if old is None or new.get("updated_at") != old.get("updated_at"):
        return new.get("updated_by"), new.get("updated_at") or fallback
    return None, fallback or new.get("updated_at")


def _changes(old: dict[str, Any], new: dict[str, Any], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {f: {"old": old.get(f), "new": new.get(f)} for f in fields if old.get(f) != new.get(f)}


def _bumped(old: Image, new: Image) -> bool:
    """A client's change: tags, groups and tag sets move `version` with every one (and only then)."""
    return old is not None and new is not None and old.get("version") != new.get("version")


def _tag_events(old: Image, new: Image, base: Callable[..., dict[str, Any]]) -> list[Event]:
    item = new or old or {}
    ids = {"tag_id": item["id"]}
    if old is None and new is not None:
        snapshot = {f: new.get(f) for f in TAG_FIELDS}
        return [("tag.created", base(**ids, tag=snapshot))]
    if new is None and old is not None:
        if old.get("merged_into"):
            return [("tag.merged", base(**ids, into=old["merged_into"], name=old.get("name")))]
        return [("tag.deleted", base(**ids, name=old.get("name")))]
    assert old is not None and new is not None
    changes = _changes(old, new, TAG_CHANGES) if _bumped(old, new) else {}
    return [("tag.updated", base(**ids, changes=changes))] if changes else []


def _group_events(old: Image, new: Image, base: Callable[..., dict[str, Any]]) -> list[Event]:
    item = new or old or {}
    ids = {"group_id": item["id"]}
    if old is None and new is not None:
        return [("tag_group.created", base(**ids, group={f: new.get(f) for f in GROUP_FIELDS}))]
    if new is None and old is not None:
        return [("tag_group.deleted", base(**ids, name=old.get("name")))]
    assert old is not None and new is not None
    changes = _changes(old, new, GROUP_FIELDS) if _bumped(old, new) else {}
    return [("tag_group.updated", base(**ids, changes=changes))] if changes else []


def _pruned(old: Image, new: Image, before: set[str], after: set[str]) -> bool:
    """The clean-up after a tag deletion: it removed exactly the deleted tag it names in `pruned`."""
    return old is not None and new is not None and bool(new.get("pruned")) and before - after == {new["pruned"]}


def _tag_set_events(old: Image, new: Image, base: Callable[..., dict[str, Any]]) -> list[Event]:
    item = new or old or {}
    before = set((old or {}).get("tags") or {})
    after = set((new or {}).get("tags") or {})
    if (old is not None and new is not None and not _bumped(old, new)) or _pruned(old, new, before, after):
        return []  # a write that is not a client's change, or the clean-up: the tag went with tag.deleted
    stamped = new is not None and (old is None or new.get("updated_at") != old.get("updated_at"))
    where = {"kind": item["kind"], "object_id": item["object_id"],
             "source": str((new or {}).get(keys.LAST_SOURCE) or "api") if stamped else None}
    return ([("tag.detached", base(tag_id=tag_id, **where)) for tag_id in sorted(before - after)]
            + [("tag.attached", base(tag_id=tag_id, **where)) for tag_id in sorted(after - before)])


_BUILDERS: dict[str, Callable[[Image, Image, Callable[..., dict[str, Any]]], list[Event]]] = {
    keys.TAG: _tag_events,
    keys.GROUP: _group_events,
    keys.TAG_SET: _tag_set_events,
}


def build_events(record: dict[str, Any], *, deleted_by: str | None = None) -> list[Event]:
    """The events one stream record stands for, in order. Pure: the same record (and `deleted_by`, who deleted
    the tag or group a REMOVE record stands for, as the delete recorded it) always gives the same events."""
    old, new = images(record)
    if old is not None and new is None and deleted_by:
        old = {**old, "deleted_by": deleted_by}
    item = new or old or {}
    builder = _BUILDERS.get(str(keys.item_type(item)))
    if builder is None:
        return []
    actor, at = _stamp(old, new, record_time(record))
    tenant = item.get("tenant")

    def base(**ids: Any) -> dict[str, Any]:
        return {"tenant": tenant, **ids, "actor": actor, "time": at}

    sequence = str((record.get("dynamodb") or {}).get("SequenceNumber") or record.get("eventID") or "")
    return [(detail_type, {"event_id": f"{sequence}-{n}", **detail})
            for n, (detail_type, detail) in enumerate(builder(old, new, base))]


# --- publishing --------------------------------------------------------------------------------------------------

def client() -> Any:
    """The EventBridge client, created on first publish (cold starts of the API functions never pay for it)."""
    return _client()


@functools.lru_cache(maxsize=1)
def _client() -> Any:
    from botocore.config import Config  # noqa: PLC0415 - deferred like tags_core.db

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)
    return db.create_client("events", region_name=get_settings().region, config=config)


def reset() -> None:
    """Forget the cached client (tests start a new mock per test)."""
    _client.cache_clear()


def publish(events: Sequence[Event]) -> None:
    """Send events to the bus in EVENT_BUS_NAME, in order; unset or "local": to the log (and EVENTS_FILE).

    Raises PublishError (or the client's error) unless every event was accepted; the caller fails the record.
    """
    if not events:
        return
    settings = get_settings()
    bus = settings.event_bus_name
    if not bus or bus == LOCAL_BUS:
        _publish_locally(events, settings.events_file)
    else:
        for start in range(0, len(events), MAX_ENTRIES):
            _put(bus, events[start:start + MAX_ENTRIES])
    outcomes.count(outcomes.EVENTS_PUBLISHED, len(events))


def _entry(bus: str, event: Event) -> dict[str, Any]:
    detail_type, detail = event
    entry: dict[str, Any] = {"Source": SOURCE, "DetailType": detail_type, "EventBusName": bus,
                             "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False)}
    when = _parse_time(detail.get("time"))
    if when is not None:
        entry["Time"] = when
    return entry


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _put(bus: str, chunk: Sequence[Event]) -> None:
    """One PutEvents call, then again with only the entries it did not accept (EventBridge takes them singly)."""
    pending = [_entry(bus, event) for event in chunk]
    for attempt in range(PUT_ATTEMPTS):
        response = client().put_events(Entries=pending)
        if not response.get("FailedEntryCount"):
            return
        results = response.get("Entries") or []
        failed = [entry for entry, result in zip(pending, results, strict=False) if result.get("ErrorCode")]
        codes = sorted({str(r.get("ErrorCode")) for r in results if r.get("ErrorCode")})
        logger.warning("EventBridge refused events", extra={"refused": len(failed), "sent": len(pending),
                                                             "error_codes": codes, "attempt": attempt + 1})
        pending = failed or pending
        if attempt + 1 < PUT_ATTEMPTS:
            time.sleep(0.05 * 2 ** attempt)
    raise PublishError(f"{len(pending)} event(s) not accepted by EventBridge after {PUT_ATTEMPTS} attempts")


def envelope(event: Event) -> dict[str, Any]:
    """An event as EventBridge delivers it to a rule's target (less account and region)."""
    detail_type, detail = event
    return {"version": "0", "id": detail.get("event_id"), "detail-type": detail_type, "source": SOURCE,
            "time": detail.get("time"), "resources": [], "detail": detail}


def _publish_locally(events: Sequence[Event], path: str | None) -> None:
    delivered = [envelope(event) for event in events]
    for one in delivered:
        logger.info("change event", extra={"event": one})
    if path:
        lines = [json.dumps(one, separators=(",", ":"), ensure_ascii=False) for one in delivered]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
