"""The response envelopes of the API as pydantic models: documentation (OpenAPI) of what the routes return."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tags_core.domain.models import (
    BatchResult,
    ErrorEntry,
    FoundObject,
    Group,
    HistoryEntry,
    Kind,
    MergeResult,
    Model,
    ObjectRef,
    Tag,
    TaggedObject,
    Timestamp,
)


class TagEnvelope(Model):
    data: Tag


class BatchEnvelope(Model):
    data: BatchResult


class ListMeta(Model):
    current_page: int | None
    from_: int | None = Field(alias="from")
    to: int | None
    per_page: int
    last_page: int | None
    total: int | None
    path: str
    next_cursor: str | None


class ListLinks(Model):
    first: str | None
    last: str | None
    prev: str | None
    next: str | None


class TagList(Model):
    data: list[Tag]
    meta: ListMeta
    links: ListLinks


class Deleted(Model):
    id: str
    object: str
    deleted: Literal[True]


class DeletedEnvelope(Model):
    data: Deleted


class ErrorEnvelope(Model):
    status: int
    description: str
    response_time: Timestamp
    request_id: str
    errors: list[ErrorEntry]


class GroupEnvelope(Model):
    data: Group


class GroupList(Model):
    data: list[Group]
    meta: ListMeta
    links: ListLinks


class ObjectTagsMeta(Model):
    object: ObjectRef
    version: int


class ObjectTagList(Model):
    data: list[Tag]
    meta: ObjectTagsMeta


class CursorMeta(Model):
    next_cursor: str | None


class TaggedObjectList(Model):
    data: list[TaggedObject]
    meta: CursorMeta


class HistoryList(Model):
    data: list[HistoryEntry]
    meta: CursorMeta


class FoundObjectList(Model):
    data: list[FoundObject]
    meta: CursorMeta


class MergeEnvelope(Model):
    data: MergeResult


class BulkObjectResult(Model):
    object_id: str
    status: Literal["changed", "unchanged", "failed"]
    errors: list[ErrorEntry] | None = Field(default=None, description="failed: why (at most 5 entries).")


class BulkResultList(Model):
    data: list[BulkObjectResult]


class BulkProgress(Model):
    total: int
    changed: int
    unchanged: int
    failed: int


class BulkFailure(Model):
    object_id: str
    errors: list[ErrorEntry]


class BulkJob(Model):
    id: str
    object: Literal["bulk_job"] = "bulk_job"
    status: Literal["queued", "running", "done"]
    kind: Kind
    progress: BulkProgress
    failures: list[BulkFailure] | None = Field(default=None, description="Every failed object (GET only).")
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None = None


class BulkJobEnvelope(Model):
    data: BulkJob
