"""Finding objects by several tags: the objects of a kind carrying every tag in `all`, at least one in `any` and none
in `none` (GET /{kind}?all=&any=&none=), one page at a time.

The plan starts from the query's most selective positive tag, by the exact usage counts the tag items carry: the
`all` tag used least on this kind, or the `any` tags together (the union of their reverse-index entries, merged in
object id order) when their usage adds up to less. Its reverse-index entries are the candidates, read in object id
order a chunk at a time; each chunk's tag sets are read in one BatchGetItem and checked against the whole query. So
a page reads in proportion to the page and to that tag's size, never to the tenant's, and never more than
READ_BUDGET items: a page that budget could not fill comes back shorter, with a cursor that continues after the last
candidate checked (object ids are unique per kind, so no object is skipped or repeated). docs/data-model.md has
the cost model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tags_core.domain.identity import Principal
from tags_core.domain.listing import Listing
from tags_core.domain.objects import OBJECT_ID
from tags_core.errors import InvalidInput
from tags_core.ids import looks_like_id
from tags_core.names import name_key, normalize_name
from tags_core.store.tag_sets import TagSetStore

MAX_TAGS = 10  # in all, any and none together
READ_BUDGET = 1_000  # items one page may read: reverse-index entries and tag sets (resolving the tags aside)
MAX_CHUNK = 100  # reverse entries per Query and tag sets per BatchGetItem
MIN_CHUNK = 10
PARAMS = ("all", "any", "none")


@dataclass(frozen=True)
class Terms:
    """The tag ids of a query, resolved."""

    all: list[str]
    any: list[str]
    none: list[str]

    def matches(self, tags: dict[str, str] | set[str]) -> bool:
        return (all(t in tags for t in self.all) and (not self.any or any(t in tags for t in self.any))
                and not any(t in tags for t in self.none))


def split_terms(all_: str | None, any_: str | None, none: str | None) -> dict[str, list[str]]:
    """The comma-separated tag ids and names of each parameter; at least one of all/any, at most MAX_TAGS."""
    terms: dict[str, list[str]] = {}
    for param, value in zip(PARAMS, (all_, any_, none), strict=True):
        tokens = [t.strip() for t in value.split(",")] if value is not None else []
        if any(not t for t in tokens):
            raise InvalidInput("Give tag ids or names separated by commas, none of them empty.", field=param)
        terms[param] = tokens
    if not terms["all"] and not terms["any"]:
        raise InvalidInput("Give the tags to look for in all, any or both.", field="all", code="required")
    if sum(len(tokens) for tokens in terms.values()) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags in all, any and none together.", code="too_many_tags")
    return terms


def _normalized(token: str) -> str | None:
    try:
        return normalize_name(token)
    except ValueError:
        return None


def resolve(repo: TagSetStore, tenant: str, kind: str, terms: dict[str, list[str]]) -> tuple[Terms, dict[str, int]]:
    """Tag ids for the tokens, as attach resolves them: a token that is the id of a live tag is that tag, any other
    a name (aliases of merged tags included); a tag being merged stands for its target. Unknown tokens: 400
    `tag_not_found`, listing them, for the first parameter that has any. Returns the terms and each tag's usage on
    `kind` (the exact counts the tag items carry)."""
    tokens = list(dict.fromkeys(t for values in terms.values() for t in values))
    names = {t: n for t in tokens if (n := _normalized(t)) is not None}
    locks = repo.find_tag_ids_by_names(tenant, list(names.values())) if names else {}
    by_name = {t: locks[name_key(n)] for t, n in names.items() if name_key(n) in locks}
    tags = repo.get_tags(tenant, [t for t in tokens if looks_like_id(t)] + list(by_name.values()))
    targets = [str(t["merged_into"]) for t in tags.values() if t.get("merged_into")]
    if any(t not in tags for t in targets):
        tags.update(repo.get_tags(tenant, [t for t in targets if t not in tags]))
    resolved: dict[str, list[str]] = {}
    for param in PARAMS:
        ids = [t if t in tags else by_name.get(t) for t in terms[param]]
        unknown = [t for t, i in zip(terms[param], ids, strict=True) if i is None or i not in tags]
        if unknown:
            raise InvalidInput("No tag with this id or name.", field=param, code="tag_not_found", tags=unknown)
        resolved[param] = list(dict.fromkeys(_target(tags, str(i)) for i in ids))
    usage = {i: int((t.get("usage") or {}).get(kind, 0)) for i, t in tags.items()}
    return Terms(**resolved), usage


def _target(tags: dict[str, dict[str, Any]], tag_id: str) -> str:
    """The tag a query means by `tag_id`: its merge target while it is being merged (if that target is live)."""
    target = tags[tag_id].get("merged_into")
    return str(target) if target and str(target) in tags else tag_id


def drivers(terms: Terms, usage: dict[str, int]) -> list[str]:
    """The tags whose reverse-index entries are the candidates: the least used `all` tag, or every `any` tag when
    together they are used less (every match carries one of them)."""
    if terms.all:
        least = min(terms.all, key=lambda t: (usage.get(t, 0), t))
        if not terms.any or usage.get(least, 0) <= sum(usage.get(t, 0) for t in terms.any):
            return [least]
    return list(terms.any)


@dataclass
class _Stream:
    """One driver tag's reverse entries, read in object id order: up to `position` read, `done` at the end."""

    tag_id: str
    position: str | None
    done: bool = False


@dataclass
class _Page:
    """What one page found so far, and what it spent."""

    limit: int
    items: list[dict[str, Any]] = field(default_factory=list)
    reads: int = 0

    @property
    def full(self) -> bool:
        return len(self.items) >= self.limit


class _Finder:
    """One page of a query: candidates from the driver streams, merged in object id order, checked in chunks."""

    def __init__(self, repo: TagSetStore, tenant: str, kind: str, terms: Terms, streams: list[_Stream],
                 limit: int, budget: int) -> None:
        self.repo, self.tenant, self.kind, self.terms = repo, tenant, kind, terms
        self.streams = streams
        self.page = _Page(limit)
        self.budget = budget
        self.pending: set[str] = set()  # read from a stream, beyond what every stream has been read to
        self.chunk = min(MAX_CHUNK, max(MIN_CHUNK, limit + 1))  # one more than the page: an exact end is seen

    def frontier(self) -> str | None:
        """Every candidate up to here has been read (None: every stream is read to its end)."""
        open_streams = [s.position or "" for s in self.streams if not s.done]
        return min(open_streams) if open_streams else None

    def run(self, start: str | None) -> str | None:
        """Fill the page; returns the object id to continue after, or None when nothing is left."""
        checked_to = start
        while True:
            lagging = [s for s in self.streams if not s.done and s.position == checked_to]
            # each id read costs its entry and, later, its tag set: what is read and pending stays within budget
            left = self.budget - self.page.reads - len(self.pending)
            size = min(self.chunk, left // (2 * max(1, len(lagging))))
            if lagging and size < 1:
                return checked_to  # the budget is spent: an honest partial page
            for stream in lagging:
                ids, more = self.repo.reverse_after(self.tenant, stream.tag_id, self.kind, stream.position, size)
                self.page.reads += len(ids)
                self.pending.update(ids)
                stream.position = ids[-1] if ids else stream.position
                stream.done = not more or not ids
            self.chunk = min(MAX_CHUNK, self.chunk * 2)
            frontier = self.frontier()
            ready = sorted(i for i in self.pending if frontier is None or i <= frontier)
            self.pending.difference_update(ready)
            stopped = self.check(ready)
            if stopped is not None:
                return stopped if (self.pending or frontier is not None or stopped != ready[-1]) else None
            if frontier is None:
                return None
            checked_to = frontier

    def check(self, candidates: list[str]) -> str | None:
        """Check candidates in order, a chunk of tag sets at a time; the candidate the page filled at, if it did."""
        for begin in range(0, len(candidates), MAX_CHUNK):
            chunk = candidates[begin:begin + MAX_CHUNK]
            sets = self.repo.get_tag_sets(self.tenant, self.kind, chunk)
            self.page.reads += len(chunk)
            for object_id in chunk:
                tags = sets.get(object_id)
                if tags is not None and self.terms.matches(tags):
                    self.page.items.append({"kind": self.kind, "id": object_id, "tag_ids": sorted(tags)})
                    if self.page.full:
                        return object_id
        return None


def _start_after(start: Callable[[], dict[str, Any] | None]) -> str | None:
    position = start()
    if position is None:
        return None
    after = position.get("after")
    if not isinstance(after, str) or not OBJECT_ID.match(after):
        raise InvalidInput("The cursor is not valid for this list; start again without it.", field="cursor",
                           code="invalid_cursor")
    return after


def find_objects(principal: Principal, kind: str, all_: str | None, any_: str | None, none: str | None,
                 limit: int, start: Callable[[], dict[str, Any] | None]) -> Listing:
    """One page of the objects of `kind` matching the query, in object id order; `start` gives the position to
    continue after (a cursor's), once the query is known to be valid."""
    terms = split_terms(all_, any_, none)
    repo = TagSetStore()
    resolved, usage = resolve(repo, principal.tenant, kind, terms)
    after = _start_after(start)
    streams = [_Stream(tag_id, after) for tag_id in drivers(resolved, usage)]
    finder = _Finder(repo, principal.tenant, kind, resolved, streams, limit, READ_BUDGET)
    position = finder.run(after)
    return Listing(finder.page.items, None, {"after": position} if position is not None else None)
