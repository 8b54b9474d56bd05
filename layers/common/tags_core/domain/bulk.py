"""Changing many objects at once: POST /{kind}/tags/bulk and its jobs.

Each object's change is `attachments.change_object_tags`: the same rules, limits, usage counts, version bump and
per key and object write budget (the sliding window, read in the object's first batch and charged in its own
transaction), group limits (`replace_in_group`) and archived-tag refusals as POST /{kind}/{object_id}/tags, in one
transaction per object. The write is stamped with source "bulk" and the caller's key as actor (the object's history
and its change events read them). One object's failure is its own result, never the others'.

- Up to INLINE_MAX objects: applied one after the other during the request; one result per object.
- More: a job. Its status item is written (with the tenant's bulk budget spent in the same transaction), its
  objects are sent to the command queue in chunks of CHUNK_SIZE, and the command consumer runs each chunk
  (`run_chunk`). Every object's outcome is a mark written with its change (or alone when nothing changed or it
  failed), conditional on there being none: a message delivered twice, or two deliveries at once, apply nothing
  twice. A chunk's outcomes move the job's counters once (the job remembers the chunks it counted).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tags_core import outcomes
from tags_core.clock import now_iso
from tags_core.domain import attachments, ratelimit
from tags_core.domain.identity import Principal
from tags_core.domain.models import AttachRequest, BulkRequest
from tags_core.errors import DomainError, InvalidInput, NotFound, ServiceUnavailable, validation_entries
from tags_core.ids import looks_like_id, new_id
from tags_core.names import name_key
from tags_core.store import queue
from tags_core.store.bulk_jobs import BulkBudgetSpent, BulkJobStore, receipt
from tags_core.store.tag_sets import AlreadyRecorded, TagSetStore

INLINE_MAX = 100
CHUNK_SIZE = 25  # objects per queue message: a batch of 10 messages stays well within the consumer's timeout
JOB_RETENTION_SECONDS = 7 * 24 * 3600  # a job and its marks are kept (TTL) this long after creation
MAX_ERRORS = 5  # error entries kept per failed object
SOURCE = "bulk"


@dataclass(frozen=True)
class Change:
    """What a bulk request does to each object, resolved once: tags to attach (as attach takes them), to detach."""

    add: AttachRequest  # with create_missing and replace_in_group
    remove_names: list[str]
    remove_ids: list[str]


def _names(field: str, refs: list[str], create_missing: bool = False, replace_in_group: bool = False) -> AttachRequest:
    """Names and ids of `add` or `remove`, names checked (and normalised) as attach checks them."""
    try:
        return AttachRequest.model_validate({"tags": [r for r in refs if not looks_like_id(r)],
                                             "tag_ids": [r for r in refs if looks_like_id(r)],
                                             "create_missing": create_missing, "replace_in_group": replace_in_group})
    except ValidationError as exc:
        errors = [{**e, "field": field} for e in validation_entries(exc.errors())]  # type: ignore[arg-type]
        raise InvalidInput(errors=errors) from None


def _change(add: list[str], remove: list[str], create_missing: bool, replace_in_group: bool) -> Change:
    """Split names from ids and check names as attach does; a tag both added and removed is refused."""
    attach, detach = _names("add", add, create_missing, replace_in_group), _names("remove", remove)
    both = ({name_key(n) for n in attach.tags} & {name_key(n) for n in detach.tags}) | (
        set(attach.tag_ids) & set(detach.tag_ids))
    if both:
        raise InvalidInput("A tag cannot be both added and removed.", field="remove", code="invalid_value")
    return Change(attach, list(detach.tags), list(detach.tag_ids))


def _check_tags(principal: Principal, kind: str, change: Change) -> None:
    """Tags added by id must exist, apply to the kind and not be archived: otherwise every object would fail alike,
    so the request is refused (400) before anything is written. (A tag merged away is attached as its target, as
    attach does.) A tag archived or changed after this check fails each object it reaches, as attach would."""
    if not change.add.tag_ids:
        return
    live = TagSetStore().get_tags(principal.tenant, list(change.add.tag_ids))
    unknown = [i for i in change.add.tag_ids if i not in live]
    if unknown:
        raise InvalidInput("No tag with this id.", field="add", code="tag_not_found", tag_ids=unknown)
    for tag_id, tag in live.items():
        if tag.get("merged_into"):
            continue
        if tag.get("archived_at"):
            raise InvalidInput(f"Tag {tag.get('name')!r} is archived; restore it to attach it.", field="add",
                               code="tag_archived", tag_id=tag_id)
        if not (tag.get("applies_to") or {}).get(kind):
            raise InvalidInput(f"Tag {tag.get('name')!r} does not apply to {kind}s.", field="add",
                               code="not_applicable", tag_id=tag_id)


def change_objects(principal: Principal, kind: str, body: BulkRequest) -> tuple[int, Any]:
    """(200, one result per object) for up to INLINE_MAX objects; (202, the job) for more."""
    change = _change(body.add, body.remove, body.create_missing, body.replace_in_group)
    _check_tags(principal, kind, change)
    store = BulkJobStore()
    budget = ratelimit.charge_bulk(principal.tenant, len(body.objects))
    if len(body.objects) <= INLINE_MAX:
        _spend(body, lambda: store.spend_budget(budget))
        return 200, [apply_one(principal, kind, object_id, change) for object_id in body.objects]
    now, job_id = now_iso(), new_id()
    job: dict[str, Any] = {"id": job_id, "kind": kind, "actor": principal.key_id, "add": list(body.add),
           "remove": list(body.remove), "create_missing": body.create_missing,
           "replace_in_group": body.replace_in_group, "total": len(body.objects),
           "changed": 0, "unchanged": 0, "failed": 0, "processed": 0, "created_at": now, "updated_at": now}
    _spend(body, lambda: store.create_job(principal.tenant, job, int(time.time()) + JOB_RETENTION_SECONDS, budget))
    chunks = [body.objects[i:i + CHUNK_SIZE] for i in range(0, len(body.objects), CHUNK_SIZE)]
    try:
        queue.send([{"bulk_job": job["id"], "tenant": principal.tenant, "chunk": n, "objects": objects}
                    for n, objects in enumerate(chunks)])
    except ServiceUnavailable:
        store.delete_job(principal.tenant, job_id)  # a chunk already sent finds no job and is dropped
        raise
    return 202, present(job)


def _spend(body: BulkRequest, spend: Any) -> None:
    try:
        spend()
    except BulkBudgetSpent:
        raise ratelimit.bulk_refused(len(body.objects)) from None


def _failed(object_id: str, exc: DomainError) -> dict[str, Any]:
    return {"object_id": object_id, "status": "failed", "errors": exc.entries()[:MAX_ERRORS]}


def apply_one(principal: Principal, kind: str, object_id: str, change: Change,
              mark: dict[str, Any] | None = None) -> dict[str, Any]:
    """One object's change and its result; a refusal is the object's result (`mark` commits with a change). A store
    that fails after its retries fails the request (503, Retry-After): the objects before it stay changed, and a
    retry (same Idempotency-Key or not) finds them unchanged."""
    try:
        changed = attachments.change_object_tags(principal, kind, object_id, change.add, change.remove_names,
                                                 change.remove_ids, source=SOURCE, receipt=mark)
    except ServiceUnavailable:
        raise  # the store, not the object: the whole request answers 503 (a job's message is received again)
    except DomainError as exc:
        outcomes.count(outcomes.BULK_OBJECTS)
        outcomes.count(outcomes.BULK_OBJECTS_FAILED)
        return _failed(object_id, exc)
    outcomes.count(outcomes.BULK_OBJECTS)
    return {"object_id": object_id, "status": "changed" if changed else "unchanged"}


def run_chunk(tenant: str, job_id: str, chunk: int, objects: list[str]) -> dict[str, int] | None:
    """Apply one queued chunk of a job (see the module's docstring); returns the chunk's counts, None when the job
    is gone (expired, or its creation failed after this chunk was sent): the chunk is dropped."""
    store = BulkJobStore()
    job = store.get_job(tenant, job_id)
    if job is None:
        return None
    principal = Principal(tenant=tenant, role="write", key_id=str(job["actor"]))
    change = _change(list(job["add"]), list(job["remove"]), bool(job["create_missing"]),
                     bool(job.get("replace_in_group")))
    expires_at = int(job["expires_at"])
    marks = store.get_marks(tenant, job_id, objects)
    for object_id in objects:
        if object_id in marks:
            continue  # done by an earlier delivery
        changed = {"status": "changed"}
        try:
            result = apply_one(principal, str(job["kind"]), object_id, change,
                               receipt(tenant, job_id, object_id, changed, expires_at))
        except AlreadyRecorded:
            marks.update(store.get_marks(tenant, job_id, [object_id]))
            continue
        outcome = {k: v for k, v in result.items() if k != "object_id"}
        marks[object_id] = outcome if outcome == changed else store.put_mark(tenant, job_id, object_id, outcome,
                                                                              expires_at)
    counts = dict(Counter(str(marks[o]["status"]) for o in objects if o in marks))
    after = store.count_chunk(tenant, job_id, chunk, counts, now_iso())
    if after is not None and int(after["processed"]) >= int(after["total"]):
        store.finish(tenant, job_id, now_iso())
    return counts


def present(job: dict[str, Any], failures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A job as the API shows it; its status follows from its counters."""
    processed, total = int(job.get("processed", 0)), int(job["total"])
    status = "done" if processed >= total else "running" if processed else "queued"
    shown: dict[str, Any] = {
        "id": job["id"], "object": "bulk_job", "status": status, "kind": job["kind"],
        "progress": {"total": total, **{k: int(job.get(k, 0)) for k in ("changed", "unchanged", "failed")}},
        "created_at": job["created_at"], "updated_at": job["updated_at"], "finished_at": job.get("finished_at")}
    if failures is not None:
        shown["failures"] = [{"object_id": f["object_id"], "errors": f.get("errors") or []} for f in failures]
    return shown


def get_job(principal: Principal, job_id: str) -> dict[str, Any]:
    """GET /bulk-jobs/{id}: the job, its progress and every failed object with its errors."""
    store = BulkJobStore()
    job = store.get_job(principal.tenant, job_id) if looks_like_id(job_id) else None
    if job is None:
        raise NotFound("No such bulk job.")
    return present(job, sorted(store.failures(principal.tenant, job_id), key=lambda f: str(f["object_id"])))
