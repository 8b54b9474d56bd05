"""Tag group rules: names unique per tenant like tags; a group is deleted only when empty, or after ungrouping."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tags_core.auth import Principal, now_iso
from tags_core.errors import NotFound, PreconditionFailed, ServiceUnavailable
from tags_core.ids import looks_like_id, new_id
from tags_core.models import GroupCreate, GroupPatch
from tags_core.names import slugify
from tags_core.pagination import (
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_meta,
    query_fingerprint,
    search_prefix,
)
from tags_core.repository import GROUP_PREFIX, INDEX_BY_GROUP, INDEX_BY_NAME, Repository

UNGROUP_CHUNK = 98  # tags moved per transaction (100 actions at most, one is the group's count)
UNGROUP_BUDGET_SECONDS = 8.0
UPDATE_ATTEMPTS = 3


def present(tenant: str, group: dict[str, Any]) -> dict[str, Any]:
    return {"id": group["id"], "object": "tag_group", "name": group["name"], "name_slug": group["name_slug"],
            "description": group.get("description"), "tag_count": int(group.get("tag_count", 0)),
            "account": {"id": tenant}, "version": group["version"], "created_at": group["created_at"],
            "updated_at": group["updated_at"]}


def create_group(p: Principal, body: GroupCreate) -> dict[str, Any]:
    now = now_iso()
    group = {"id": new_id(), "name": body.name, "name_slug": slugify(body.name), "description": body.description,
             "tag_count": 0, "version": 1, "created_at": now, "updated_at": now, "updated_by": p.key_id}
    Repository().create_group(p.tenant, group)
    return present(p.tenant, group)


def get_group(p: Principal, group_id: str, *, consistent: bool = False) -> dict[str, Any]:
    group = Repository().get_group(p.tenant, group_id, consistent=consistent) if looks_like_id(group_id) else None
    if group is None:
        raise NotFound("No tag group with this id.", field="id")
    return group


def patch_group(p: Principal, group_id: str, body: GroupPatch) -> dict[str, Any]:
    changes = body.model_dump(include=body.model_fields_set)
    repo = Repository()
    for attempt in range(UPDATE_ATTEMPTS):
        current = get_group(p, group_id, consistent=attempt > 0)
        updated = {**current, **changes}
        if all(updated[f] == current.get(f) for f in ("name", "description")):
            return present(p.tenant, current)
        updated.update(name_slug=slugify(updated["name"]), version=current["version"] + 1, updated_at=now_iso(),
                       updated_by=p.key_id)
        try:
            repo.update_group(p.tenant, current, updated)
        except PreconditionFailed:
            if attempt == UPDATE_ATTEMPTS - 1:
                raise
            continue
        return present(p.tenant, updated)
    raise PreconditionFailed("The group is changing too fast; read it again.")  # pragma: no cover


def delete_group(p: Principal, group_id: str, *, ungroup: bool) -> dict[str, Any]:
    """Delete a group. With `ungroup`, its tags first become free-standing, in transactions of 98 tags.

    The group index only finds candidates (it is eventually consistent); each tag is re-read consistently and
    moved on its current version, and the group's exact tag count says when every tag has left.
    """
    repo = Repository()
    group = get_group(p, group_id, consistent=True)
    deadline = time.monotonic() + UNGROUP_BUDGET_SECONDS
    partition = f"T#{p.tenant}#TAGS#G#{group_id}"
    while ungroup and int(group.get("tag_count", 0)) > 0:
        candidates, _ = repo.query_page(index=INDEX_BY_GROUP, partition=partition, ascending=True,
                                        limit=UNGROUP_CHUNK, start_key=None)
        current = repo.get_tags(p.tenant, [t["id"] for t in candidates])
        members = [t for t in current.values() if t.get("group_id") == group_id]
        if members:
            with contextlib.suppress(PreconditionFailed):  # a member changed meanwhile: read again
                repo.ungroup_tags(p.tenant, group_id, members, now_iso(), p.key_id)
        elif time.monotonic() > deadline:
            raise ServiceUnavailable("The group's tags are still being moved; retry the delete shortly.")
        else:
            time.sleep(0.1)  # the index has not caught up with the latest tags of the group yet
        group = get_group(p, group_id, consistent=True)
    repo.delete_group(p.tenant, group)
    return {"id": group_id, "object": "tag_group", "deleted": True}


def list_groups(p: Principal, request: PageRequest, *, path: str, q: str | None,
                sort: str) -> tuple[list[dict[str, Any]], dict, dict]:
    tenant = p.tenant
    query = {"q": q, "sort": sort}
    fingerprint = query_fingerprint({**query, "list": "groups"})
    start = decode_cursor(request.cursor, tenant, fingerprint) if request.cursor else None
    prefix = search_prefix(q) if q else None
    repo = Repository()
    by_name = sort.lstrip("-") == "name"
    items, last_key = repo.query_page(
        index=INDEX_BY_NAME if by_name else None, partition=f"T#{tenant}#GROUPS" if by_name else f"T#{tenant}",
        ascending=not sort.startswith("-"), limit=request.limit, start_key=start,
        prefix=prefix if by_name else None, filters=[("GSI1SK", "begins_with", prefix)] if prefix and not by_name
        else None, skip=request.offset if start is None else 0, base_prefix=GROUP_PREFIX,
    )
    total = repo.count_groups(tenant) if q is None else None
    next_cursor = encode_cursor(tenant, fingerprint, last_key) if last_key else None
    meta, links = page_meta(request, path=path, query=query, count=len(items), total=total, next_cursor=next_cursor)
    return [present(tenant, item) for item in items], meta, links
