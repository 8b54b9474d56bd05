"""Tag rules: create (one by one and in bulk), read, list, replace, patch and delete, for one tenant."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from tags_core import outcomes
from tags_core.clock import now_iso
from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing, Window, search_prefix
from tags_core.domain.models import KINDS, BatchCreate, TagCreate, TagPatch
from tags_core.domain.versions import expect_version, read_consistently
from tags_core.errors import Conflict, DomainError, InvalidInput, NotFound, PreconditionFailed, validation_entries
from tags_core.ids import looks_like_id, new_id
from tags_core.names import name_key, slugify
from tags_core.store.tags import GroupMissing, TagStore
from tags_core.store.tenants import TenantStore

MUTABLE_FIELDS = ("name", "type", "group_id", "applies_to", "color", "description")
UPDATE_ATTEMPTS = 3
_create_adapter = TypeAdapter(TagCreate)


def group_not_found() -> InvalidInput:
    """The answer to a tag naming a group that does not exist (the body's id: a bad request, not a 404)."""
    return InvalidInput("No such tag group.", field="group_id", code="group_not_found")


def present(tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
    """A stored tag as the API shows it."""
    return {
        "id": tag["id"], "object": "tag", "name": tag["name"], "name_slug": tag["name_slug"], "type": tag["type"],
        "group_id": tag.get("group_id"), "applies_to": tag["applies_to"], "color": tag.get("color"),
        "description": tag.get("description"),
        "usage": {kind: int(tag.get("usage", {}).get(kind, 0)) for kind in KINDS},
        "account": {"id": tenant}, "version": tag["version"],
        "created_at": tag["created_at"], "updated_at": tag["updated_at"],
    }


def _check_group(group_id: str | None) -> None:
    """Cheap shape check; existence is proven atomically by the write (the group's tag count moves with it)."""
    if group_id is not None and not looks_like_id(group_id):
        raise group_not_found()


def _new_record(principal: Principal, body: TagCreate) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": new_id(), "name": body.name, "name_slug": slugify(body.name), "type": body.type,
        "group_id": body.group_id, "applies_to": body.applies_to.model_dump(), "color": body.color,
        "description": body.description, "usage": {kind: 0 for kind in KINDS}, "version": 1,
        "created_at": now, "updated_at": now, "updated_by": principal.key_id,
    }


def create_tag(principal: Principal, body: TagCreate) -> dict[str, Any]:
    _check_group(body.group_id)
    record = _new_record(principal, body)
    _create(TagStore(), principal.tenant, record)
    outcomes.count(outcomes.TAGS_CREATED)
    return present(principal.tenant, record)


def _create(repo: TagStore, tenant: str, record: dict[str, Any]) -> None:
    try:
        repo.create_tag(tenant, record)
    except GroupMissing:
        raise group_not_found() from None


def batch_create(principal: Principal, body: BatchCreate) -> dict[str, Any]:
    """Create many tags. Names already taken are reported in `existing`; a name repeated in the request counts
    once (its first occurrence); bad items are reported in `errors` with their index."""
    inserted: list[dict[str, Any]] = []
    existing: list[dict[str, str]] = []
    errors: list[dict[str, Any]] = []
    candidates: dict[str, tuple[int, TagCreate]] = {}  # name key → first item with that name
    for index, raw in enumerate(body.tags):
        try:
            item = _create_adapter.validate_python({"name": raw} if isinstance(raw, str) else raw)
            _check_group(item.group_id)
        except ValidationError as exc:
            errors.append({"index": index, "errors": validation_entries(exc.errors())})  # type: ignore[arg-type]
            continue
        except DomainError as exc:
            errors.append({"index": index, "errors": exc.entries()})
            continue
        candidates.setdefault(name_key(item.name), (index, item))

    repo = TagStore()
    taken = repo.find_tag_ids_by_names(principal.tenant, [item.name for _, item in candidates.values()])
    for key, (index, item) in candidates.items():
        if key in taken:
            existing.append({"id": taken[key], "name": item.name})
            continue
        record = _new_record(principal, item)
        try:
            _create(repo, principal.tenant, record)
        except Conflict as exc:  # created by a concurrent request since we looked
            existing.append({"id": exc.extra.get("existing_id") or "", "name": item.name})
            continue
        except InvalidInput as exc:  # e.g. its group was deleted meanwhile
            errors.append({"index": index, "errors": exc.entries()})
            continue
        inserted.append(present(principal.tenant, record))
    errors.sort(key=lambda e: e["index"])
    outcomes.count(outcomes.TAGS_CREATED, len(inserted))
    return {"inserted": inserted, "existing": existing, "errors": errors}


def get_tag(principal: Principal, tag_id: str, *, consistent: bool = False) -> dict[str, Any]:
    tag = TagStore().get_tag(principal.tenant, tag_id, consistent=consistent) if looks_like_id(tag_id) else None
    if tag is None:
        raise NotFound("No tag with this id.", field="id")
    return tag


def show_tag(principal: Principal, tag_id: str) -> dict[str, Any]:
    """A tag as the API shows it, read consistently (read-your-writes for ETag and If-Match)."""
    return present(principal.tenant, get_tag(principal, tag_id, consistent=True))


def _merged_applies_to(current: dict[str, bool], given: dict[str, bool]) -> dict[str, bool]:
    merged: dict[str, bool] = {kind: bool(given.get(kind, current.get(kind, True))) for kind in KINDS}
    if not any(merged.values()):
        raise InvalidInput("applies_to must leave at least one of conversation, customer, comment true.",
                           field="applies_to")
    return merged


def _apply(principal: Principal, tag_id: str, changes: dict[str, Any] | None, replace: TagCreate | None,
           expected_version: int | None) -> dict[str, Any]:
    """Read, change, write conditionally on the version read; retried on a lost race unless If-Match was given."""
    repo = TagStore()
    for attempt in range(UPDATE_ATTEMPTS):
        current = get_tag(principal, tag_id, consistent=read_consistently(attempt, expected_version))
        expect_version(current, expected_version, "tag")
        if replace is not None:
            wanted = replace.model_dump(mode="json")
        else:
            wanted = {**current, **(changes or {})}
            if changes and "applies_to" in changes:
                wanted["applies_to"] = _merged_applies_to(current["applies_to"], changes["applies_to"])
        updated = {**current, **{field: wanted[field] for field in MUTABLE_FIELDS}}
        if all(updated[f] == current[f] for f in MUTABLE_FIELDS):
            return present(principal.tenant, current)
        if updated["group_id"] != current.get("group_id"):
            _check_group(updated["group_id"])
        updated.update(name_slug=slugify(updated["name"]), version=current["version"] + 1, updated_at=now_iso(),
                       updated_by=principal.key_id)
        try:
            repo.update_tag(principal.tenant, current, updated)
        except GroupMissing:
            raise group_not_found() from None
        except PreconditionFailed:
            if expected_version is not None or attempt == UPDATE_ATTEMPTS - 1:
                raise
            continue
        return present(principal.tenant, updated)
    raise PreconditionFailed("The tag is changing too fast; read it again.")  # pragma: no cover


def replace_tag(principal: Principal, tag_id: str, body: TagCreate, expected_version: int | None) -> dict[str, Any]:
    return _apply(principal, tag_id, None, body, expected_version)


def patch_tag(principal: Principal, tag_id: str, body: TagPatch, expected_version: int | None) -> dict[str, Any]:
    changes = body.model_dump(mode="json", include=body.model_fields_set)
    if body.applies_to is not None:  # only the kinds given change
        changes["applies_to"] = body.applies_to.model_dump(include=body.applies_to.model_fields_set)
    return _apply(principal, tag_id, changes, None, expected_version)


def delete_tag(principal: Principal, tag_id: str, expected_version: int | None = None) -> dict[str, Any]:
    """Delete on the version read (retried on a lost race unless If-Match was given: then 412 on another version)."""
    repo = TagStore()
    for attempt in range(UPDATE_ATTEMPTS):
        tag = get_tag(principal, tag_id, consistent=read_consistently(attempt, expected_version))
        expect_version(tag, expected_version, "tag")
        try:
            repo.delete_tag(principal.tenant, tag)
        except PreconditionFailed:
            if expected_version is not None or attempt == UPDATE_ATTEMPTS - 1:
                raise
            continue
        break
    outcomes.count(outcomes.TAGS_DELETED)
    return {"id": tag_id, "object": "tag", "deleted": True}


def list_tags(principal: Principal, window: Window, *, q: str | None, tag_type: str | None, group_id: str | None,
              applies_to: str | None, sort: str) -> Listing:
    """One page of the tenant's tags, filtered and in one of four orders (the store picks the index)."""
    tenant = principal.tenant
    prefix = search_prefix(q) if q is not None else None
    ungrouped = group_id in ("null", "0")
    if group_id is not None and not ungrouped and not looks_like_id(group_id):
        raise InvalidInput("group_id must be a group id, or null for free-standing tags.", field="group_id")
    items, last = TagStore().list_tags(
        tenant, by_name=sort.lstrip("-") == "name", ascending=not sort.startswith("-"), limit=window.limit,
        start=window.start, skip=window.skip, prefix=prefix, tag_type=tag_type,
        group=None if ungrouped else group_id, ungrouped=ungrouped, applies_to=applies_to)
    unfiltered = q is None and tag_type is None and group_id is None and applies_to is None
    total = TenantStore().count_tags(tenant) if unfiltered else None
    return Listing([present(tenant, item) for item in items], total, last)
