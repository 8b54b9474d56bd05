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

from tags_core import outcomes
from tags_core.clock import now_iso
from tags_core.domain import group_limits, ratelimit
from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing
from tags_core.domain.models import KINDS, AttachRequest
from tags_core.domain.objects import check_object_id
from tags_core.domain.tags import get_tag, present
from tags_core.errors import InvalidInput, PreconditionFailed, ServiceUnavailable
from tags_core.ids import looks_like_id, new_id
from tags_core.names import name_key, slugify
from tags_core.store.groups import GroupStore
from tags_core.store.table import TagSetChanged
from tags_core.store.tag_sets import AttachRefused, BudgetChanged, GroupGuard, Stamp, TagSetStore

MAX_PER_CALL = 50
MAX_PER_OBJECT = 100
ATTEMPTS = 6
MAX_ACTIONS = 100  # DynamoDB's limit on one transaction
ObjectTags = tuple[list[dict[str, Any]], dict[str, Any]]  # the object's tags, and meta (object, version)
ObjectWrite = tuple[list[dict[str, Any]], dict[str, Any], ratelimit.Budget]  # and the caller's write budget after


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
    replace_in_group: bool = False
    source: str = "api"
    redirects: dict[str, str] = field(default_factory=dict)  # tags merged away → their target
    charged: bool = False  # the rate-limit charge is taken once per request, by its first committed step
    budget: ratelimit.Budget | None = None  # as read by the last attempt (spent if that attempt charged it)
    remove_names: list[str] = field(default_factory=list)  # detached in the same write (a bulk change)
    remove_ids: list[str] = field(default_factory=list)
    receipt: dict[str, Any] | None = None  # a bulk job's outcome mark, committed with the change

    def stamp(self, plan: _Plan | None = None) -> Stamp:
        """Who writes, through what, and the names of the tags the write moves (for the object's history)."""
        if plan is None:
            return Stamp(self.principal.key_id, self.source)
        moved = [*plan.added, *plan.removed]
        names = {i: plan.live[i]["name"] for i in moved if i in plan.live}
        names.update({t["id"]: t["name"] for t in plan.created})
        return Stamp(self.principal.key_id, self.source, names)


@dataclass
class _Plan:
    """The change one attempt commits, from the tag set and name locks it read (and, when it changes anything,
    the live tags of the set and of those added, with the group guard the write checks)."""

    version: int
    current: dict[str, str]
    created: list[dict[str, Any]]
    added: list[str]
    kept: list[str]
    removed: list[str]
    new_set: dict[str, str]
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    guard: GroupGuard | None = None


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
    version = int(tag_set["version"]) if tag_set else 0
    plan = _Plan(version, current, created, added, kept, removed, new_set)
    if added or removed or created:
        plan.live = repo.get_tags(principal.tenant, [*current, *added])
        if added:
            _group_limits(repo, request, plan, set(wanted))
        _bounded(plan, created_ids)
    return plan


def _group_limits(repo: TagSetStore, request: _Request, plan: _Plan, asked: set[str]) -> None:
    """Apply the groups' max_per_object (reading the groups the added tags belong to, if any)."""
    involved = group_limits.groups_of(plan.live, plan.added)
    groups = GroupStore().get_groups(request.principal.tenant, involved) if involved else {}
    detach, plan.guard = group_limits.apply_limits(plan.live, groups, plan.new_set, asked, plan.added,
                                                   request.replace_in_group)
    for tag_id in detach:
        plan.new_set.pop(tag_id, None)
        if tag_id not in plan.removed:
            plan.removed.append(tag_id)


def _bounded(plan: _Plan, created_ids: set[str]) -> None:
    """At most MAX_PER_OBJECT tags (ids of tags deleted since they were attached do not count); only live tags
    have a usage to move down."""
    if len(plan.new_set) > MAX_PER_OBJECT:
        plan.new_set = {i: at for i, at in plan.new_set.items() if i in plan.live or i in created_ids}
        if len(plan.new_set) > MAX_PER_OBJECT:
            raise InvalidInput(f"An object carries at most {MAX_PER_OBJECT} tags.", field="tags",
                               code="too_many_tags")
    plan.removed = [i for i in plan.removed if i in plan.live]


def _answer(request: _Request, plan: _Plan, version: int) -> ObjectTags:
    """The object's tags after the write, from what the attempt read (usage moved by the write included)."""
    tags = {i: plan.live[i] for i in plan.new_set if i in plan.live}
    for tag_id in plan.added:
        if tag_id in tags:
            usage = dict(tags[tag_id].get("usage") or {})
            usage[request.kind] = int(usage.get(request.kind, 0)) + 1
            tags[tag_id] = {**tags[tag_id], "usage": usage}
    tags.update({t["id"]: t for t in plan.created})
    return _sorted(request.principal, tags), {"object": {"kind": request.kind, "id": request.object_id},
                                              "version": version}


def _unchanged(repo: TagSetStore, request: _Request, plan: _Plan) -> ObjectTags:
    tags, meta = _listing(request.principal, request.kind, request.object_id, list(plan.current), plan.version, repo)
    gone = set(plan.kept) - {t["id"] for t in tags}
    if gone:  # deleted, and not yet pruned from this object's set by the stream
        raise InvalidInput("No tag with this id.", field="tag_ids", code="tag_not_found", tag_ids=sorted(gone))
    return tags, meta


def _step(repo: TagSetStore, request: _Request, plan: _Plan, rate_limit: dict[str, Any] | None) -> bool:
    """A change too big for one transaction: create the new tags first (unattached, harmless), or commit the
    removals as a step of their own; the caller then reads again and finishes. Each step is version-checked.
    Returns whether the step spent the rate-limit charge."""
    tenant = request.principal.tenant
    if plan.created:  # unattached for now: their usage moves when the next step attaches them
        _check_attachable(repo, tenant, request.kind, [*plan.added, *plan.kept], request.ids, request.redirects)
        repo.create_tags(tenant, [{**t, "usage": dict.fromkeys(KINDS, 0)} for t in plan.created])
        outcomes.count(outcomes.TAGS_CREATED, len(plan.created))
        return False
    step = plan.removed[: MAX_ACTIONS - 2]
    repo.write_tag_set(tenant, request.kind, request.object_id, old_version=plan.version, tags={
        i: at for i, at in plan.current.items() if i not in step}, added=[], removed=step, created=[],
        stamp=request.stamp(plan), rate_limit=rate_limit)
    outcomes.count(outcomes.ATTACHMENTS_REMOVED, len(step))
    return True


def _attempt(repo: TagSetStore, request: _Request, plan: _Plan) -> int | None:
    """Commit the plan (or, too big, one step of it: None). Returns the new version."""
    principal = request.principal
    rate_limit = None if request.charged or request.budget is None else request.budget.charge()
    actions = (1 + bool(rate_limit) + bool(request.receipt) + len(plan.added) + len(plan.kept) + len(plan.removed)
               + (2 * len(plan.created) + 1 if plan.created else 0) + (len(plan.guard.counts) if plan.guard else 0))
    if actions > MAX_ACTIONS:
        if _step(repo, request, plan, rate_limit):
            _spent(request, rate_limit)
        return None
    version = repo.write_tag_set(
        principal.tenant, request.kind, request.object_id, old_version=plan.version, tags=plan.new_set,
        added=plan.added, removed=plan.removed, created=plan.created, stamp=request.stamp(plan),
        rate_limit=rate_limit, kept=plan.kept, guard=plan.guard, receipt=request.receipt)
    _spent(request, rate_limit)
    outcomes.count(outcomes.TAGS_CREATED, len(plan.created))
    outcomes.count(outcomes.ATTACHMENTS_ADDED, len(plan.added) + len(plan.created))  # created ones are attached
    outcomes.count(outcomes.ATTACHMENTS_REMOVED, len(plan.removed))
    return version


def _spent(request: _Request, rate_limit: dict[str, Any] | None) -> None:
    if rate_limit and request.budget is not None:
        request.budget = request.budget.spent()
        request.charged = True


def _first_spellings(names: list[str]) -> list[str]:
    """One name per tag: the first spelling of each is the one created (as POST /tags/batch does)."""
    spellings: dict[str, str] = {}
    for name in names:
        spellings.setdefault(name_key(name), name)
    return list(spellings.values())


def set_object_tags(principal: Principal, kind: str, object_id: str, body: AttachRequest, *, replace: bool,
                    expected_version: int | None = None, source: str = "api") -> ObjectWrite:
    """Append (or, with `replace`, replace) an object's tags by name and id; returns its full tag list (and the
    caller's write budget on the object). `source` is recorded on the write for the object's history (api, queue,
    bulk)."""
    object_id = check_object_id(object_id)
    names = _first_spellings(body.tags)
    ids = list(dict.fromkeys(body.tag_ids))
    if len(names) + len(ids) > MAX_PER_CALL:
        raise InvalidInput(f"At most {MAX_PER_CALL} tags per call.", field="tags", code="too_many_tags")
    _check_ids(ids, "tag_ids")
    request = _Request(principal, kind, object_id, names, ids, replace, body.create_missing, body.replace_in_group,
                       source)
    written, _ = _apply(request, expected_version)
    return written


def change_object_tags(principal: Principal, kind: str, object_id: str, body: AttachRequest, remove_names: list[str],
                       remove_ids: list[str], *, source: str, receipt: dict[str, Any] | None = None) -> bool:
    """Attach `body`'s tags and detach the removed ones in one write (a bulk change of one object), by the same
    rules as POST /{kind}/{object_id}/tags (group limits and replace_in_group, archived tags, the caller's write
    budget on the object); `receipt` commits with the change. True when the object changed."""
    object_id = check_object_id(object_id)
    ids = list(dict.fromkeys(body.tag_ids))
    _check_ids([*ids, *remove_ids], "tag_ids")
    request = _Request(principal, kind, object_id, _first_spellings(body.tags), ids, False, body.create_missing,
                       body.replace_in_group, source, remove_names=_first_spellings(remove_names),
                       remove_ids=list(dict.fromkeys(remove_ids)), receipt=receipt)
    _, changed = _apply(request, None)
    return changed


def _check_ids(ids: list[str], field_name: str) -> None:
    bad_ids = [i for i in ids if not looks_like_id(i)]
    if bad_ids:
        raise InvalidInput("No tag with this id.", field=field_name, code="tag_not_found", tag_ids=bad_ids)


def _apply(request: _Request, expected_version: int | None) -> tuple[ObjectWrite, bool]:
    """Read, plan and commit until the change holds (or is refused); (the object's tags and the caller's write
    budget, whether it changed)."""
    principal, kind, object_id = request.principal, request.kind, request.object_id
    repo = TagSetStore()
    budget_key = ratelimit.key(principal.tenant, principal.key_id, kind, object_id)
    for attempt in range(ATTEMPTS):
        tag_set, locks, spent = repo.read_for_attach(principal.tenant, kind, object_id,
                                                     [*request.names, *request.remove_names], budget_key)
        read = ratelimit.budget(principal.tenant, principal.key_id, kind, object_id, spent)
        request.budget = request.budget if request.charged else read
        version = int(tag_set["version"]) if tag_set else 0
        if expected_version is not None and version != expected_version:
            raise PreconditionFailed(f"The object's tags are at version {version}, not {expected_version}.",
                                     field="If-Match")
        plan = _plan(repo, request, tag_set, locks)
        if not plan.added and not plan.removed and not plan.created:
            return (*_unchanged(repo, request, plan), request.budget or read), False
        try:
            committed = _attempt(repo, request, plan)
        except BudgetChanged:  # another write of this key to this object meanwhile: read the budget again
            _backoff(attempt)
            continue
        except TagSetChanged:
            if expected_version is not None:
                raise PreconditionFailed("The object's tags changed meanwhile; read them again.",
                                         field="If-Match") from None
            _backoff(attempt)
            continue
        except AttachRefused as refused:
            target = _refuse(refused, kind, request.ids)
            if target:
                request.redirects[refused.tag_id] = target
            else:
                _backoff(attempt)
            continue
        if committed is not None:
            return (*_answer(request, plan, committed), request.budget or read), True
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def _check_attachable(repo: TagSetStore, tenant: str, kind: str, tag_ids: list[str], ids: list[str],
                      redirects: dict[str, str]) -> None:
    """Before a call too big for one transaction creates its new tags: refuse it now if an existing tag it
    attaches cannot be (so a refused call leaves nothing behind); note merge targets for the retry."""
    live = repo.get_tags(tenant, tag_ids)
    for tag_id in tag_ids:
        tag = live.get(tag_id)
        if (tag is None or tag.get("merged_into") or tag.get("archived_at")
                or not (tag.get("applies_to") or {}).get(kind)):
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
    if tag.get("archived_at"):
        raise InvalidInput(f"Tag {tag.get('name')!r} is archived; restore it to attach it.", field="tags",
                           code="tag_archived", tag_id=refused.tag_id) from None
    if not (tag.get("applies_to") or {}).get(kind):
        raise InvalidInput(f"Tag {tag.get('name')!r} does not apply to {kind}s.", field="tags",
                           code="not_applicable", tag_id=refused.tag_id) from None
    return None  # it moved to another group since it was read: read again


def _new_tag(principal: Principal, name: str, kind: str, now: str) -> dict[str, Any]:
    return {"id": new_id(), "name": name, "name_slug": slugify(name), "type": "tag", "group_id": None,
            "applies_to": {k: True for k in KINDS}, "color": None, "description": None,
            "usage": {k: int(k == kind) for k in KINDS}, "version": 1, "created_at": now, "updated_at": now,
            "updated_by": principal.key_id}


def remove_object_tag(principal: Principal, kind: str, object_id: str, tag_id: str,
                      source: str = "api") -> ObjectWrite:
    """Detach one tag; returns the object's remaining tags (and the caller's write budget on the object)."""
    object_id = check_object_id(object_id)
    repo = TagSetStore()
    budget_key = ratelimit.key(principal.tenant, principal.key_id, kind, object_id)
    meta: dict[str, Any] = {"object": {"kind": kind, "id": object_id}}
    for attempt in range(ATTEMPTS):
        tag_set = repo.get_tag_set(principal.tenant, kind, object_id) or {}
        current: dict[str, str] = dict(tag_set.get("tags") or {})
        version = int(tag_set.get("version", 0))
        live, spent = repo.read_tags_and_budget(principal.tenant, list(current), budget_key)
        budget = ratelimit.budget(principal.tenant, principal.key_id, kind, object_id, spent)
        if tag_id not in current:
            return _sorted(principal, live), {**meta, "version": version}, budget
        remaining = {i: at for i, at in current.items() if i != tag_id}
        try:
            version = repo.write_tag_set(
                principal.tenant, kind, object_id, old_version=version, tags=remaining, added=[],
                removed=[tag_id] if tag_id in live else [], created=[],
                stamp=Stamp(principal.key_id, source, {tag_id: live[tag_id]["name"]} if tag_id in live else {}),
                rate_limit=budget.charge())
        except (TagSetChanged, BudgetChanged):
            _backoff(attempt)
            continue
        outcomes.count(outcomes.ATTACHMENTS_REMOVED)
        live.pop(tag_id, None)  # the others' usage did not move; the list is what was read with the set
        return _sorted(principal, live), {**meta, "version": version}, budget.spent()
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def list_tag_objects(principal: Principal, tag_id: str, kind: str | None, limit: int,
                     start: Callable[[], dict[str, Any] | None]) -> Listing:
    """Objects carrying a tag, by kind then id, one page at a time (the reverse index, O(page)). `start` gives
    the position to continue after, once the tag is known to exist."""
    get_tag(principal, tag_id)
    items, last = TagSetStore().query_reverse(principal.tenant, tag_id, kind, limit, start())
    return Listing([{"kind": i["kind"], "id": i["object_id"], "attached_at": i["attached_at"]} for i in items],
                   None, last)
