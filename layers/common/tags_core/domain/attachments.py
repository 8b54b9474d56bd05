"""Tags on objects (conversations, customers, comments): list, append, replace, remove, and reverse lookup.

An object's tags are one item, its tag set (tag id → attached_at, and a version). Every change to it commits
in one transaction with the usage counts it moves, the tags it creates and the caller's rate-limit charge.
Reads join the set with the live tags, so a deleted tag disappears from every object the moment it is gone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tags_core.clock import now_iso
from tags_core.domain import ratelimit
from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing
from tags_core.domain.models import KINDS, AttachRequest
from tags_core.domain.objects import check_object_id
from tags_core.domain.tags import get_tag, present
from tags_core.errors import InvalidInput, PreconditionFailed, ServiceUnavailable
from tags_core.ids import looks_like_id, new_id
from tags_core.names import name_key, slugify
from tags_core.store.table import TagSetChanged
from tags_core.store.tag_sets import AttachRefused, RateLimitExceeded, TagSetStore

MAX_PER_CALL = 50
MAX_PER_OBJECT = 100
ATTEMPTS = 6
MAX_ACTIONS = 100  # DynamoDB's limit on one transaction
ObjectTags = tuple[list[dict[str, Any]], dict[str, Any]]  # the object's tags, and meta (object, version)


def _listing(principal: Principal, kind: str, object_id: str, ids: list[str], version: int,
             repo: TagSetStore) -> ObjectTags:
    live = repo.get_tags(principal.tenant, ids) if ids else {}
    return _sorted(principal, live), {"object": {"kind": kind, "id": object_id}, "version": version}


def _sorted(principal: Principal, live: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((present(principal.tenant, t) for t in live.values()), key=lambda t: (name_key(t["name"]), t["id"]))


def list_object_tags(principal: Principal, kind: str, object_id: str) -> ObjectTags:
    object_id = check_object_id(object_id)
    repo = TagSetStore()
    tag_set = repo.get_tag_set(principal.tenant, kind, object_id) or {}
    return _listing(principal, kind, object_id, list((tag_set.get("tags") or {}).keys()), tag_set.get("version", 0),
                    repo)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * (2 ** attempt)))  # noqa: S311 - jitter, not a secret


@dataclass
class _Request:
    """One append or replace: what was asked for, and what the attempts learnt so far."""

    principal: Principal
    kind: str
    object_id: str
    names: list[str]
    ids: list[str]
    replace: bool
    create_missing: bool
    redirects: dict[str, str] = field(default_factory=dict)  # tags merged away → their target
    charged: bool = False  # the rate-limit charge is taken once per request, by its first committed step
    remove_names: list[str] = field(default_factory=list)  # detached in the same write (a bulk change)
    remove_ids: list[str] = field(default_factory=list)
    receipt: dict[str, Any] | None = None  # a bulk job's outcome mark, committed with the change


@dataclass
class _Plan:
    """The change one attempt commits, from the tag set and name locks it read."""

    version: int
    current: dict[str, str]
    created: list[dict[str, Any]]
    added: list[str]
    kept: list[str]
    removed: list[str]
    new_set: dict[str, str]


def _plan(repo: TagSetStore, request: _Request, tag_set: dict[str, Any] | None, locks: dict[str, str]) -> _Plan:
    principal, kind, names, ids, redirects = (request.principal, request.kind, request.names, request.ids,
                                              request.redirects)
    current: dict[str, str] = dict((tag_set or {}).get("tags") or {})
    missing = [n for n in names if name_key(n) not in locks]
    if missing and not request.create_missing:
        raise InvalidInput("No tag with this name.", field="tags", code="tag_not_found", names=missing)
    now = now_iso()
    created = [_new_tag(principal, name, kind, now) for name in missing]
    created_ids = {t["id"] for t in created}
    wanted = [locks[name_key(n)] for n in names if name_key(n) in locks] + ids
    drop = {redirects.get(i, i) for i in request.remove_ids} | {
        locks[name_key(n)] for n in request.remove_names if name_key(n) in locks}
    wanted = [i for i in dict.fromkeys(redirects.get(i, i) for i in wanted) if i not in drop]
    added = [i for i in wanted if i not in current]
    kept = [i for i in dict.fromkeys(redirects.get(i, i) for i in ids) if i in current and i not in drop]
    removed = [i for i in current if (request.replace and i not in wanted and i not in created_ids) or i in drop]
    new_set = {i: at for i, at in current.items() if i not in removed}
    new_set.update({i: now for i in added}, **{t["id"]: now for t in created})
    if len(new_set) > MAX_PER_OBJECT:
        live = repo.get_tags(principal.tenant, list(new_set))  # drop ids of tags deleted since they were attached
        new_set = {i: at for i, at in new_set.items() if i in live or i in created_ids}
        removed = [i for i in removed if i in live]
        if len(new_set) > MAX_PER_OBJECT:
            raise InvalidInput(f"An object carries at most {MAX_PER_OBJECT} tags.", field="tags",
                               code="too_many_tags")
    if removed and len(new_set) <= MAX_PER_OBJECT:
        live_ids = repo.get_tags(principal.tenant, removed)  # a deleted tag has no usage left to move
        removed = [i for i in removed if i in live_ids]
    version = int(tag_set["version"]) if tag_set else 0
    return _Plan(version, current, created, added, kept, removed, new_set)


def _unchanged(repo: TagSetStore, request: _Request, plan: _Plan) -> ObjectTags:
    tags, meta = _listing(request.principal, request.kind, request.object_id, list(plan.current), plan.version, repo)
    gone = set(plan.kept) - {t["id"] for t in tags}
    if gone:  # deleted, and not yet pruned from this object's set by the stream
        raise InvalidInput("No tag with this id.", field="tag_ids", code="tag_not_found", tag_ids=sorted(gone))
    return tags, meta


def _step(repo: TagSetStore, request: _Request, plan: _Plan, rate_limit: dict[str, Any] | None) -> None:
    """A change too big for one transaction: create the new tags first (unattached, harmless), or commit the
    removals as a step of their own; the caller then reads again and finishes. Each step is version-checked."""
    tenant = request.principal.tenant
    if plan.created:  # unattached for now: their usage moves when the next step attaches them
        _check_attachable(repo, tenant, request.kind, [*plan.added, *plan.kept], request.ids, request.redirects)
        repo.create_tags(tenant, [{**t, "usage": dict.fromkeys(KINDS, 0)} for t in plan.created])
        return
    step = plan.removed[: MAX_ACTIONS - 2]
    repo.write_tag_set(tenant, request.kind, request.object_id, old_version=plan.version, tags={
        i: at for i, at in plan.current.items() if i not in step}, added=[], removed=step, created=[],
        actor=request.principal.key_id, rate_limit=rate_limit, source=request.principal.source)
    request.charged = True


def _attempt(repo: TagSetStore, request: _Request, plan: _Plan) -> int | None:
    """Commit the plan (or, too big, one step of it: None). Returns the new version."""
    principal = request.principal
    rate_limit = None if request.charged else ratelimit.charge(principal.tenant, principal.key_id, request.kind,
                                                               request.object_id)
    actions = (1 + bool(rate_limit) + bool(request.receipt) + len(plan.added) + len(plan.kept) + len(plan.removed)
               + (2 * len(plan.created) + 1 if plan.created else 0))
    if actions > MAX_ACTIONS:
        _step(repo, request, plan, rate_limit)
        return None
    return repo.write_tag_set(
        principal.tenant, request.kind, request.object_id, old_version=plan.version, tags=plan.new_set,
        added=plan.added, removed=plan.removed, created=plan.created, actor=principal.key_id,
        rate_limit=rate_limit, kept=plan.kept, source=principal.source, receipt=request.receipt)


def _first_spellings(names: list[str]) -> list[str]:
    """One name per tag: the first spelling of each is the one created (as POST /tags/batch does)."""
    spellings: dict[str, str] = {}
    for name in names:
        spellings.setdefault(name_key(name), name)
    return list(spellings.values())


def set_object_tags(principal: Principal, kind: str, object_id: str, body: AttachRequest, *, replace: bool,
                    expected_version: int | None = None) -> ObjectTags:
    """Append (or, with `replace`, replace) an object's tags by name and id; returns its full tag list."""
    object_id = check_object_id(object_id)
    names = _first_spellings(body.tags)
    ids = list(dict.fromkeys(body.tag_ids))
    if len(names) + len(ids) > MAX_PER_CALL:
        raise InvalidInput(f"At most {MAX_PER_CALL} tags per call.", field="tags", code="too_many_tags")
    _check_ids(ids, "tag_ids")
    request = _Request(principal, kind, object_id, names, ids, replace, body.create_missing)
    tags, _ = _apply(request, expected_version)
    return tags


def change_object_tags(principal: Principal, kind: str, object_id: str, body: AttachRequest, remove_names: list[str],
                       remove_ids: list[str], receipt: dict[str, Any] | None = None) -> bool:
    """Attach `body`'s tags and detach the removed ones in one write (a bulk change of one object), by the same
    rules as POST /{kind}/{object_id}/tags; `receipt` commits with the change. True when the object changed."""
    object_id = check_object_id(object_id)
    ids = list(dict.fromkeys(body.tag_ids))
    _check_ids([*ids, *remove_ids], "tag_ids")
    request = _Request(principal, kind, object_id, _first_spellings(body.tags), ids, False, body.create_missing,
                       remove_names=_first_spellings(remove_names), remove_ids=list(dict.fromkeys(remove_ids)),
                       receipt=receipt)
    _, changed = _apply(request, None)
    return changed


def _check_ids(ids: list[str], field_name: str) -> None:
    bad_ids = [i for i in ids if not looks_like_id(i)]
    if bad_ids:
        raise InvalidInput("No tag with this id.", field=field_name, code="tag_not_found", tag_ids=bad_ids)


def _apply(request: _Request, expected_version: int | None) -> tuple[ObjectTags, bool]:
    """Read, plan and commit until the change holds (or is refused); (the object's tags, whether it changed)."""
    principal, kind, object_id = request.principal, request.kind, request.object_id
    repo = TagSetStore()
    for attempt in range(ATTEMPTS):
        tag_set, locks = repo.read_for_attach(principal.tenant, kind, object_id,
                                              [*request.names, *request.remove_names])
        version = int(tag_set["version"]) if tag_set else 0
        if expected_version is not None and version != expected_version:
            raise PreconditionFailed(f"The object's tags are at version {version}, not {expected_version}.",
                                     field="If-Match")
        plan = _plan(repo, request, tag_set, locks)
        if not plan.added and not plan.removed and not plan.created:
            return _unchanged(repo, request, plan), False
        try:
            committed = _attempt(repo, request, plan)
        except TagSetChanged:
            if expected_version is not None:
                raise PreconditionFailed("The object's tags changed meanwhile; read them again.",
                                         field="If-Match") from None
            _backoff(attempt)
            continue
        except RateLimitExceeded:
            raise ratelimit.refused() from None
        except AttachRefused as refused:
            target = _refuse(refused, kind, request.ids)
            if target:
                request.redirects[refused.tag_id] = target
            else:
                _backoff(attempt)
            continue
        if committed is not None:
            return _listing(principal, kind, object_id, list(plan.new_set), committed, repo), True
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def _check_attachable(repo: TagSetStore, tenant: str, kind: str, tag_ids: list[str], ids: list[str],
                      redirects: dict[str, str]) -> None:
    """Before a call too big for one transaction creates its new tags: refuse it now if an existing tag it
    attaches cannot be (so a refused call leaves nothing behind); note merge targets for the retry."""
    live = repo.get_tags(tenant, tag_ids)
    for tag_id in tag_ids:
        tag = live.get(tag_id)
        if tag is None or tag.get("merged_into") or not (tag.get("applies_to") or {}).get(kind):
            target = _refuse(AttachRefused(tag_id, tag), kind, ids)
            if target:
                redirects[tag_id] = target


def _refuse(refused: AttachRefused, kind: str, ids: list[str]) -> str | None:
    """Turn a refused attachment into the client's error; or return to retry, with the merge target if any."""
    tag = refused.tag
    if tag is None:
        if refused.tag_id in ids:
            raise InvalidInput("No tag with this id.", field="tag_ids", code="tag_not_found",
                               tag_ids=[refused.tag_id]) from None
        return None  # a tag found by name was deleted meanwhile: the retry creates it again
    if tag.get("merged_into"):
        return str(tag["merged_into"])
    raise InvalidInput(f"Tag {tag.get('name')!r} does not apply to {kind}s.", field="tags",
                       code="not_applicable", tag_id=refused.tag_id) from None


def _new_tag(principal: Principal, name: str, kind: str, now: str) -> dict[str, Any]:
    return {"id": new_id(), "name": name, "name_slug": slugify(name), "type": "tag", "group_id": None,
            "applies_to": {k: True for k in KINDS}, "color": None, "description": None,
            "usage": {k: int(k == kind) for k in KINDS}, "version": 1, "created_at": now, "updated_at": now,
            "updated_by": principal.key_id}


def remove_object_tag(principal: Principal, kind: str, object_id: str, tag_id: str) -> ObjectTags:
    object_id = check_object_id(object_id)
    repo = TagSetStore()
    for attempt in range(ATTEMPTS):
        tag_set = repo.get_tag_set(principal.tenant, kind, object_id) or {}
        current: dict[str, str] = dict(tag_set.get("tags") or {})
        version = int(tag_set.get("version", 0))
        if tag_id not in current:
            return _listing(principal, kind, object_id, list(current), version, repo)
        remaining = {i: at for i, at in current.items() if i != tag_id}
        live = repo.get_tags(principal.tenant, list(current))
        try:
            version = repo.write_tag_set(
                principal.tenant, kind, object_id, old_version=version, tags=remaining, added=[],
                removed=[tag_id] if tag_id in live else [], created=[], actor=principal.key_id,
                rate_limit=ratelimit.charge(principal.tenant, principal.key_id, kind, object_id),
                source=principal.source)
        except TagSetChanged:
            _backoff(attempt)
            continue
        except RateLimitExceeded:
            raise ratelimit.refused() from None
        live.pop(tag_id, None)  # the others' usage did not move; the list is what was read with the set
        return _sorted(principal, live), {"object": {"kind": kind, "id": object_id}, "version": version}
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def list_tag_objects(principal: Principal, tag_id: str, kind: str | None, limit: int,
                     start: Callable[[], dict[str, Any] | None]) -> Listing:
    """Objects carrying a tag, by kind then id, one page at a time (the reverse index, O(page)). `start` gives
    the position to continue after, once the tag is known to exist."""
    get_tag(principal, tag_id)
    items, last = TagSetStore().query_reverse(principal.tenant, tag_id, kind, limit, start())
    return Listing([{"kind": i["kind"], "id": i["object_id"], "attached_at": i["attached_at"]} for i in items],
                   None, last)
