"""What the code did during one invocation, counted by name (tags created, attachments added, events published...).

Plain Python on purpose: the domain, the store and the flows count their outcomes here without knowing about
Powertools or CloudWatch; `tags_core.observability` opens a tally when an invocation starts and turns it into
metrics when it ends. Outside an invocation (tools, unit tests calling the domain directly) counting does nothing.
The names are the metric names; `docs/operations.md` lists them.
"""

from __future__ import annotations

from contextvars import ContextVar

TAGS_CREATED = "TagsCreated"
TAGS_DELETED = "TagsDeleted"
ATTACHMENTS_ADDED = "AttachmentsAdded"
ATTACHMENTS_REMOVED = "AttachmentsRemoved"
MERGES = "Merges"
OBJECTS_MOVED = "ObjectsMoved"
IDEMPOTENT_REPLAYS = "IdempotentReplays"
RATE_LIMITED_WRITES = "RateLimitedWrites"
STREAM_RECORDS_PROCESSED = "StreamRecordsProcessed"
STREAM_RECORDS_FAILED = "StreamRecordsFailed"
EVENTS_PUBLISHED = "EventsPublished"
COMMANDS_APPLIED = "CommandsApplied"
COMMANDS_FAILED = "CommandsFailed"
BULK_OBJECTS = "BulkObjects"  # objects a bulk change processed (inline or in a job's chunk), failed ones included
BULK_OBJECTS_FAILED = "BulkObjectsFailed"

NAMES = (TAGS_CREATED, TAGS_DELETED, ATTACHMENTS_ADDED, ATTACHMENTS_REMOVED, MERGES, OBJECTS_MOVED, IDEMPOTENT_REPLAYS,
         RATE_LIMITED_WRITES, STREAM_RECORDS_PROCESSED, STREAM_RECORDS_FAILED, EVENTS_PUBLISHED, COMMANDS_APPLIED,
         COMMANDS_FAILED, BULK_OBJECTS, BULK_OBJECTS_FAILED)

_tally: ContextVar[dict[str, int] | None] = ContextVar("tags_outcomes", default=None)


def count(name: str, value: int = 1) -> None:
    """Add `value` to the outcome `name` of the current invocation (no-op outside one, or for 0)."""
    tally = _tally.get()
    if tally is not None and value:
        tally[name] = tally.get(name, 0) + value


def start() -> None:
    """Open a fresh tally (called when an invocation starts)."""
    _tally.set({})


def drain() -> dict[str, int]:
    """The counts so far, and a fresh tally."""
    tally = _tally.get() or {}
    _tally.set({})
    return tally
