"""Tags on objects (conversations, customers, comments): list, append, replace, remove, and reverse lookup.

An object's tags are one item, its tag set (tag id → attached_at, and a version). Every change to it commits
in one transaction with the usage counts it moves, the tags it creates and the caller's rate-limit charge.
Reads join the set with the live tags, so a deleted tag disappears from every object the moment it is gone.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from tags_core import ratelimit
from tags_core.auth import Principal, now_iso
from tags_core.errors import InvalidInput, NotFound, PreconditionFailed, ServiceUnavailable
from tags_core.ids import looks_like_id, new_id
from tags_core.models import KINDS, AttachRequest
from tags_core.names import name_key, slugify
from tags_core.pagination import decode_cursor, encode_cursor, query_fingerprint
from tags_core.repository import AttachRefused, RateLimitExceeded, Repository, TagSetChanged
from tags_core.tags import get_tag, present

KIND_OF_PATH = {"conversations": "conversation", "customers": "customer", "comments": "comment"}
OBJECT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_PER_CALL = 50
MAX_PER_OBJECT = 100
ATTEMPTS = 6
MAX_ACTIONS = 100  # DynamoDB's limit on one transaction


def object_kind(path_kind: str) -> str:
    kind = KIND_OF_PATH.get(path_kind)
    if kind is None:
        raise NotFound("No such route; objects are conversations, customers or comments.")
    return kind


def check_object_id(object_id: str) -> str:
    if not OBJECT_ID.match(object_id):
        raise InvalidInput("Object ids are 1-128 of A-Z a-z 0-9 . _ : -", field="object_id")
    return object_id


def _listing(p: Principal, kind: str, object_id: str, ids: list[str], version: int,
             repo: Repository) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    live = repo.get_tags(p.tenant, ids) if ids else {}
    tags = sorted((present(p.tenant, t) for t in live.values()), key=lambda t: (name_key(t["name"]), t["id"]))
    return tags, {"object": {"kind": kind, "id": object_id}, "version": version}


def list_object_tags(p: Principal, path_kind: str, object_id: str) -> tuple[list[dict[str, Any]], dict]:
    kind, object_id = object_kind(path_kind), check_object_id(object_id)
    repo = Repository()
    tag_set = repo.get_tag_set(p.tenant, kind, object_id) or {}
    return _listing(p, kind, object_id, list((tag_set.get("tags") or {}).keys()), tag_set.get("version", 0), repo)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * (2 ** attempt)))  # noqa: S311 - jitter, not a secret


def set_object_tags(p: Principal, path_kind: str, object_id: str, body: AttachRequest, *, replace: bool,
                    expected_version: int | None = None) -> tuple[list[dict[str, Any]], dict]:
    """Append (or, with `replace`, replace) an object's tags by name and id; returns its full tag list."""
    kind, object_id = object_kind(path_kind), check_object_id(object_id)
    names = list({name_key(n): n for n in body.tags}.values())
    ids = list(dict.fromkeys(body.tag_ids))
    if len(names) + len(ids) > MAX_PER_CALL:
        raise InvalidInput(f"At most {MAX_PER_CALL} tags per call.", field="tags", code="too_many_tags")
    bad_ids = [i for i in ids if not looks_like_id(i)]
    if bad_ids:
        raise InvalidInput("No tag with this id.", field="tag_ids", code="tag_not_found", tag_ids=bad_ids)
    repo = Repository()
    redirects: dict[str, str] = {}  # tags merged away → their target
    charged = False  # the rate-limit charge is taken once per request, by its first committed step
    for attempt in range(ATTEMPTS):
        tag_set, locks = repo.read_for_attach(p.tenant, kind, object_id, names)
        version = int(tag_set["version"]) if tag_set else 0
        if expected_version is not None and version != expected_version:
            raise PreconditionFailed(f"The object's tags are at version {version}, not {expected_version}.",
                                     field="If-Match")
        current: dict[str, str] = dict((tag_set or {}).get("tags") or {})
        missing = [n for n in names if name_key(n) not in locks]
        if missing and not body.create_missing:
            raise InvalidInput("No tag with this name.", field="tags", code="tag_not_found", names=missing)
        now = now_iso()
        created = [_new_tag(p, name, kind, now) for name in missing]
        wanted = [locks[name_key(n)] for n in names if name_key(n) in locks] + ids
        wanted = list(dict.fromkeys(redirects.get(i, i) for i in wanted))
        added = [i for i in wanted if i not in current]
        kept = [i for i in dict.fromkeys(redirects.get(i, i) for i in ids) if i in current]  # must still be live
        removed = [i for i in current if i not in wanted and i not in {t["id"] for t in created}] if replace else []
        if not added and not removed and not created:
            tags, meta = _listing(p, kind, object_id, list(current), version, repo)
            gone = set(kept) - {t["id"] for t in tags}
            if gone:  # deleted, and not yet pruned from this object's set by the stream
                raise InvalidInput("No tag with this id.", field="tag_ids", code="tag_not_found",
                                   tag_ids=sorted(gone))
            return tags, meta
        new_set = {i: at for i, at in current.items() if i not in removed}
        new_set.update({i: now for i in added}, **{t["id"]: now for t in created})
        if len(new_set) > MAX_PER_OBJECT:
            live = repo.get_tags(p.tenant, list(new_set))  # drop ids of tags deleted since they were attached
            new_set = {i: at for i, at in new_set.items() if i in live or i in {t["id"] for t in created}}
            removed = [i for i in removed if i in live]
            if len(new_set) > MAX_PER_OBJECT:
                raise InvalidInput(f"An object carries at most {MAX_PER_OBJECT} tags.", field="tags",
                                   code="too_many_tags")
        if removed and len(new_set) <= MAX_PER_OBJECT:
            live_ids = repo.get_tags(p.tenant, removed)  # a deleted tag has no usage left to move
            removed = [i for i in removed if i in live_ids]
        rate_limit = None if charged else ratelimit.charge(p.tenant, p.key_id, kind, object_id)
        actions = (1 + bool(rate_limit) + len(added) + len(kept) + len(removed)
                   + (2 * len(created) + 1 if created else 0))
        try:
            if actions > MAX_ACTIONS:
                # Too big for one transaction: create the new tags first (unattached, harmless), or commit the
                # removals as a step of their own; then read again and finish. Each step is version-checked.
                if created:  # unattached for now: their usage moves when the next step attaches them
                    _check_attachable(repo, p.tenant, kind, [*added, *kept], ids, redirects)
                    repo.create_tags(p.tenant, [{**t, "usage": dict.fromkeys(KINDS, 0)} for t in created])
                else:
                    step = removed[: MAX_ACTIONS - 2]
                    repo.write_tag_set(p.tenant, kind, object_id, old_version=version, tags={
                        i: at for i, at in current.items() if i not in step}, added=[], removed=step, created=[],
                        actor=p.key_id, rate_limit=rate_limit)
                    charged = True
                continue
            version = repo.write_tag_set(
                p.tenant, kind, object_id, old_version=version, tags=new_set, added=added, removed=removed,
                created=created, actor=p.key_id, rate_limit=rate_limit, kept=kept)
        except TagSetChanged:
            if expected_version is not None:
                raise PreconditionFailed("The object's tags changed meanwhile; read them again.",
                                         field="If-Match") from None
            _backoff(attempt)
            continue
        except RateLimitExceeded:
            raise ratelimit.refused() from None
        except AttachRefused as refused:
            target = _refuse(refused, kind, ids)
            if target:
                redirects[refused.tag_id] = target
            else:
                _backoff(attempt)
            continue
        return _listing(p, kind, object_id, list(new_set), version, repo)
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def _check_attachable(repo: Repository, tenant: str, kind: str, tag_ids: list[str], ids: list[str],
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


def _new_tag(p: Principal, name: str, kind: str, now: str) -> dict[str, Any]:
    return {"id": new_id(), "name": name, "name_slug": slugify(name), "type": "tag", "group_id": None,
            "applies_to": {k: True for k in KINDS}, "color": None, "description": None,
            "usage": {k: int(k == kind) for k in KINDS}, "version": 1, "created_at": now, "updated_at": now,
            "updated_by": p.key_id}


def remove_object_tag(p: Principal, path_kind: str, object_id: str, tag_id: str) -> tuple[list[dict[str, Any]], dict]:
    kind, object_id = object_kind(path_kind), check_object_id(object_id)
    repo = Repository()
    for attempt in range(ATTEMPTS):
        tag_set = repo.get_tag_set(p.tenant, kind, object_id) or {}
        current: dict[str, str] = dict(tag_set.get("tags") or {})
        version = int(tag_set.get("version", 0))
        if tag_id not in current:
            return _listing(p, kind, object_id, list(current), version, repo)
        remaining = {i: at for i, at in current.items() if i != tag_id}
        live = repo.get_tags(p.tenant, list(current))
        try:
            version = repo.write_tag_set(
                p.tenant, kind, object_id, old_version=version, tags=remaining, added=[],
                removed=[tag_id] if tag_id in live else [], created=[], actor=p.key_id,
                rate_limit=ratelimit.charge(p.tenant, p.key_id, kind, object_id))
        except TagSetChanged:
            _backoff(attempt)
            continue
        except RateLimitExceeded:
            raise ratelimit.refused() from None
        live.pop(tag_id, None)  # the others' usage did not move; the list is what was read with the set
        tags = sorted((present(p.tenant, t) for t in live.values()), key=lambda t: (name_key(t["name"]), t["id"]))
        return tags, {"object": {"kind": kind, "id": object_id}, "version": version}
    raise ServiceUnavailable("The object's tags are changing too fast; retry shortly.")


def list_tag_objects(p: Principal, tag_id: str, path_kind: str | None, limit: int,
                     cursor: str | None) -> tuple[list[dict[str, Any]], dict]:
    """Objects carrying a tag, by kind then id, one page at a time (the reverse index, O(page))."""
    get_tag(p, tag_id)
    kind = object_kind(path_kind) if path_kind else None
    fingerprint = query_fingerprint({"tag": tag_id, "kind": kind})
    start = decode_cursor(cursor, p.tenant, fingerprint) if cursor else None
    items, last = Repository().query_reverse(p.tenant, tag_id, kind, limit, start)
    data = [{"kind": i["kind"], "id": i["object_id"], "attached_at": i["attached_at"]} for i in items]
    return data, {"next_cursor": encode_cursor(p.tenant, fingerprint, last) if last else None}
