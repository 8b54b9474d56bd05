"""Tag group rules: names unique per tenant like tags; a group is deleted only when empty, or after ungrouping."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tags_core.clock import now_iso
from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing, Window, search_prefix
from tags_core.domain.models import GroupCreate, GroupPatch
from tags_core.domain.versions import expect_version, read_consistently
from tags_core.errors import NotFound, PreconditionFailed, ServiceUnavailable
from tags_core.ids import looks_like_id, new_id
from tags_core.names import slugify
from tags_core.store.groups import GroupStore
from tags_core.store.tags import TagStore
from tags_core.store.tenants import TenantStore

UNGROUP_CHUNK = 98  # tags moved per transaction (100 actions at most, one is the group's count)
UNGROUP_BUDGET_SECONDS = 8.0
UPDATE_ATTEMPTS = 3


def present(tenant: str, group: dict[str, Any]) -> dict[str, Any]:
    return {"id": group["id"], "object": "tag_group", "name": group["name"], "name_slug": group["name_slug"],
            "description": group.get("description"), "tag_count": int(group.get("tag_count", 0)),
            "max_per_object": _max(group), "account": {"id": tenant}, "version": group["version"],
            "created_at": group["created_at"], "updated_at": group["updated_at"]}


def _max(group: dict[str, Any]) -> int | None:
    value = group.get("max_per_object")
    return None if value is None else int(value)


def create_group(principal: Principal, body: GroupCreate) -> dict[str, Any]:
    now = now_iso()
    group = {"id": new_id(), "name": body.name, "name_slug": slugify(body.name), "description": body.description,
             "max_per_object": body.max_per_object, "tag_count": 0, "version": 1, "created_at": now,
             "updated_at": now, "updated_by": principal.key_id}
    GroupStore().create_group(principal.tenant, group)
    return present(principal.tenant, group)


def get_group(principal: Principal, group_id: str, *, consistent: bool = False) -> dict[str, Any]:
    group = (GroupStore().get_group(principal.tenant, group_id, consistent=consistent) if looks_like_id(group_id)
             else None)
    if group is None:
        raise NotFound("No tag group with this id.", field="id")
    return group


def show_group(principal: Principal, group_id: str) -> dict[str, Any]:
    return present(principal.tenant, get_group(principal, group_id))


def patch_group(principal: Principal, group_id: str, body: GroupPatch,
                expected_version: int | None = None) -> dict[str, Any]:
    """Change the given fields, conditionally on the version read; retried on a lost race unless If-Match was
    given (`expected_version`: 412 when the group is at another version)."""
    changes = body.model_dump(include=body.model_fields_set)
    repo = GroupStore()
    for attempt in range(UPDATE_ATTEMPTS):
        current = get_group(principal, group_id, consistent=read_consistently(attempt, expected_version))
        expect_version(current, expected_version, "group")
        updated = {**current, **changes}
        if all(updated.get(f) == current.get(f) for f in ("name", "description", "max_per_object")):
            return present(principal.tenant, current)
        updated.update(name_slug=slugify(updated["name"]), version=current["version"] + 1, updated_at=now_iso(),
                       updated_by=principal.key_id)
        try:
            repo.update_group(principal.tenant, current, updated)
        except PreconditionFailed:
            if expected_version is not None or attempt == UPDATE_ATTEMPTS - 1:
                raise
            continue
        return present(principal.tenant, updated)
    raise PreconditionFailed("The group is changing too fast; read it again.")  # pragma: no cover


def delete_group(principal: Principal, group_id: str, *, ungroup: bool,
                 expected_version: int | None = None) -> dict[str, Any]:
    """Delete a group. With `ungroup`, its tags first become free-standing, in transactions of 98 tags; with
    If-Match (`expected_version`), nothing happens unless the group is at that version.

    The group index only finds candidates (it is eventually consistent); each tag is re-read consistently and
    moved on its current version, and the group's exact tag count says when every tag has left.
    """
    repo, tags = GroupStore(), TagStore()
    group = get_group(principal, group_id, consistent=True)
    expect_version(group, expected_version, "group")
    deadline = time.monotonic() + UNGROUP_BUDGET_SECONDS
    while ungroup and int(group.get("tag_count", 0)) > 0:
        candidates = tags.group_members(principal.tenant, group_id, UNGROUP_CHUNK)
        current = tags.get_tags(principal.tenant, [t["id"] for t in candidates])
        members = [t for t in current.values() if t.get("group_id") == group_id]
        if members:
            with contextlib.suppress(PreconditionFailed):  # a member changed meanwhile: read again
                repo.ungroup_tags(principal.tenant, group_id, members, now_iso(), principal.key_id)
        elif time.monotonic() > deadline:
            raise ServiceUnavailable("The group's tags are still being moved; retry the delete shortly.")
        else:
            time.sleep(0.1)  # the index has not caught up with the latest tags of the group yet
        group = get_group(principal, group_id, consistent=True)
    _delete_on_version(repo, principal, group, expected_version)
    return {"id": group_id, "object": "tag_group", "deleted": True}


def _delete_on_version(repo: GroupStore, principal: Principal, group: dict[str, Any],
                       expected_version: int | None) -> None:
    """The delete, conditional on the version read: a group renamed meanwhile is read again and the delete
    retried, unless If-Match named the version (then 412)."""
    for attempt in range(UPDATE_ATTEMPTS):
        try:
            repo.delete_group(principal.tenant, group, principal.key_id)
            return
        except PreconditionFailed:
            if expected_version is not None or attempt == UPDATE_ATTEMPTS - 1:
                raise
            group = get_group(principal, group["id"], consistent=True)


def list_groups(principal: Principal, window: Window, *, q: str | None, sort: str) -> Listing:
    tenant = principal.tenant
    prefix = search_prefix(q) if q else None
    items, last = GroupStore().list_groups(tenant, by_name=sort.lstrip("-") == "name",
                                           ascending=not sort.startswith("-"), limit=window.limit,
                                           start=window.start, skip=window.skip, prefix=prefix)
    total = TenantStore().count_groups(tenant) if q is None else None
    return Listing([present(tenant, item) for item in items], total, last)
