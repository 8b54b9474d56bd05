"""Finding objects by several tags, GET /{kind}?all=&any=&none= (in process, through the local gateway): results
equal a brute-force recount for random queries over a few hundred objects with random tag sets, across pages of
any size and read budget (property-based), and the request rules (names, aliases, bounds, cursors, tenancy)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tags_core.domain import finder
from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import (
    MISSING_ID,
    CallCounter,
    Invoke,
    assert_error,
    merge,
    new_tag,
    ok_attach,
)

# --- a tenant with a few hundred objects ---------------------------------------------------------------------------

# How often each tag is on a conversation: from very selective to most objects.
FREQUENCIES = {"Rare": 0.02, "Few": 0.06, "Some": 0.15, "Half": 0.5, "Most": 0.75, "Red": 0.3, "Blue": 0.3,
               "Unused": 0.0}
# Ids that sort next to each other and are prefixes of one another: the page boundaries fall between them.
TRICKY_IDS = ["a", "a-", "a--", "a-b", "a.", "a0", "aa", "A", "Z", "z", "z:z", "_", "-", "0", "9.9"]


@dataclass
class World:
    tags: dict[str, str]  # name -> id
    sets: dict[str, set[str]]  # conversation id -> tag names
    customers: dict[str, set[str]]  # customer id -> tag names (another kind: never in a conversation search)

    def expected(self, all_: list[str], any_: list[str], none: list[str]) -> list[str]:
        return sorted(o for o, names in self.sets.items()
                      if set(all_) <= names and (not any_ or names & set(any_)) and not names & set(none))


@pytest.fixture
def world(invoke: Invoke, stream: StreamPoller) -> World:
    rng = random.Random(14)
    tags = {name: new_tag(invoke, name)["id"] for name in FREQUENCIES}
    objects = [f"c-{i:03d}" for i in range(200)] + TRICKY_IDS
    sets = {o: {n for n, p in FREQUENCIES.items() if rng.random() < p} for o in objects}
    sets["a-"] = {"Rare", "Few", "Half"}  # a few hand-picked sets around the tricky ids
    sets["a--"] = {"Rare", "Half"}
    sets["a"] = {"Rare"}
    customers = {f"u-{i:02d}": {n for n, p in FREQUENCIES.items() if rng.random() < p} | {"Rare"} for i in range(20)}
    for kind, group in (("conversations", sets), ("customers", customers)):
        for object_id, names in group.items():
            if names:
                ok_attach(invoke, kind, object_id, ids=[tags[n] for n in sorted(names)])
    stream.drain()
    return World(tags, {o: s for o, s in sets.items() if s}, customers)


def spelled(world: World, names: list[str], as_ids: list[bool], shout: list[bool]) -> str:
    """The names as the query spells them: some as ids, some in another case."""
    out = []
    for i, name in enumerate(names):
        if as_ids[i % len(as_ids)]:
            out.append(world.tags[name])
        else:
            out.append(name.upper() if shout[i % len(shout)] else name)
    return ",".join(out)


def pages(invoke: Invoke, path: str, query: dict[str, Any], limit: int) -> Iterator[list[dict[str, Any]]]:
    cursor = None
    for _ in range(400):
        result = invoke("GET", path, query={**query, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert result.status == 200, result.json
        assert set(result.json) == {"data", "meta"} and set(result.json["meta"]) == {"next_cursor"}
        assert len(result.data) <= limit
        yield result.data
        cursor = result.json["meta"]["next_cursor"]
        if not cursor:
            return
    raise AssertionError("the cursor never ended")


NAMES = sorted(FREQUENCIES)


@st.composite
def queries(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    all_ = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    any_ = draw(st.lists(st.sampled_from(NAMES), min_size=0 if all_ else 1, max_size=4, unique=True))
    none = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    return all_, any_, none


@settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(query=queries(), limit=st.sampled_from([1, 2, 3, 7, 20, 100]), budget=st.sampled_from([20, 45, 120, None]),
       as_ids=st.lists(st.booleans(), min_size=1, max_size=4), shout=st.lists(st.booleans(), min_size=1, max_size=4))
def test_every_query_finds_exactly_what_a_recount_finds(invoke: Invoke, world: World,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       query: tuple[list[str], list[str], list[str]], limit: int,
                                                       budget: int | None, as_ids: list[bool],
                                                       shout: list[bool]) -> None:
    all_, any_, none = query
    expected = world.expected(all_, any_, none)
    if limit == 1 and len(expected) > 60:
        limit = 7  # a page per object: the same property, at a tenth of the requests
    monkeypatch.setattr(finder, "READ_BUDGET", budget or finder.READ_BUDGET)
    params = {p: spelled(world, names, as_ids, shout) for p, names in (("all", all_), ("any", any_), ("none", none))
              if names}
    seen = [o for page in pages(invoke, "/conversations", params, limit) for o in page]
    ids = [o["id"] for o in seen]
    assert ids == expected, (params, limit, budget)  # every match, once, in id order: nothing skipped or repeated
    for o in seen:
        assert o == {"kind": "conversation", "id": o["id"],
                     "tag_ids": sorted(world.tags[n] for n in world.sets[o["id"]])}


def test_a_page_the_budget_cannot_fill_is_shorter_and_continues(invoke: Invoke, world: World,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finder, "READ_BUDGET", 20)
    query = {"all": "Half", "none": "Most,Red,Blue", "limit": 20}
    first = invoke("GET", "/conversations", query=query)
    assert first.status == 200
    assert len(first.data) < 20 and first.json["meta"]["next_cursor"]
    found = [o["id"] for page in pages(invoke, "/conversations", {k: v for k, v in query.items() if k != "limit"}, 20)
             for o in page]
    assert found == world.expected(["Half"], [], ["Most", "Red", "Blue"])


def test_kinds_are_searched_apart(invoke: Invoke, world: World) -> None:
    customers = [o for page in pages(invoke, "/customers", {"all": "Rare"}, 100) for o in page]
    assert [o["id"] for o in customers] == sorted(world.customers)
    assert {o["kind"] for o in customers} == {"customer"}
    comments = invoke("GET", "/comments", query={"any": "Rare,Most"})
    assert comments.status == 200 and comments.data == [] and comments.json["meta"]["next_cursor"] is None


# --- names, aliases, bounds ------------------------------------------------------------------------------------------

@pytest.fixture
def small(invoke: Invoke, stream: StreamPoller) -> dict[str, str]:
    tags = {name: new_tag(invoke, name)["id"] for name in ("Hot Lead", "NY", "Cool", "Old name")}
    ok_attach(invoke, "conversations", "c1", ids=[tags["Hot Lead"], tags["NY"]])
    ok_attach(invoke, "conversations", "c2", ids=[tags["NY"], tags["Cool"]])
    ok_attach(invoke, "conversations", "c3", ids=[tags["Old name"]])
    stream.drain()
    return tags


def found(invoke: Invoke, **query: Any) -> list[str]:
    result = invoke("GET", "/conversations", query=query)
    assert result.status == 200, result.json
    return [o["id"] for o in result.data]


def test_names_resolve_case_insensitively_with_spaces_folded(invoke: Invoke, small: dict[str, str]) -> None:
    assert found(invoke, all="  hot   LEAD ,ny") == ["c1"]
    assert found(invoke, all="NY", none="cool") == ["c1"]
    assert found(invoke, any=f"cool,{small['Hot Lead']}") == ["c1", "c2"]


def test_a_merged_tags_old_name_finds_the_objects_of_its_target(invoke: Invoke, small: dict[str, str],
                                                                stream: StreamPoller) -> None:
    stream.start(interval=0.05)  # the merge moves objects as the reverse index lists them
    try:
        result = invoke("POST", f"/tags/{small['Old name']}/merge", body={"into": small["Cool"]})
    finally:
        stream.stop()
    assert result.status == 200 and result.data["status"] == "merged", result.json
    stream.drain()
    assert found(invoke, all="Old name") == ["c2", "c3"]  # the alias is the target now
    assert found(invoke, any="old NAME", none="NY") == ["c3"]


def test_a_tag_being_merged_stands_for_its_target(invoke: Invoke, small: dict[str, str], tenant: Any) -> None:
    merge.MergeStore().mark_merging(tenant.id, small["Old name"], small["Cool"])  # a merge that has not moved c3 yet
    assert found(invoke, any=small["Old name"]) == ["c2"]
    assert found(invoke, any="Old name") == ["c2"]


@pytest.mark.parametrize("param", ["all", "any", "none"])
def test_an_unknown_tag_is_a_400_that_names_it(invoke: Invoke, small: dict[str, str], param: str) -> None:
    query = {"all": "NY", param: f"NY,nope,{MISSING_ID}"} if param == "none" else {param: f"NY,nope,{MISSING_ID}"}
    entry = assert_error(invoke("GET", "/conversations", query=query), 400, "tag_not_found", param)
    assert entry["tags"] == ["nope", MISSING_ID]


def test_another_tenants_tags_are_unknown(invoke: Invoke, small: dict[str, str], other_tenant: Any) -> None:
    result = invoke("GET", "/conversations", query={"all": small["NY"]}, tenant=other_tenant)
    assert_error(result, 400, "tag_not_found", "all")
    assert invoke("GET", "/conversations", query={"all": "NY"}, tenant=other_tenant).status == 400


@pytest.mark.parametrize(("query", "code", "field"), [
    ({}, "required", "all"),
    ({"none": "NY"}, "required", "all"),
    ({"all": "NY,,Cool"}, "invalid_value", "all"),
    ({"any": " "}, "invalid_value", "any"),
    ({"all": ""}, "too_short", "all"),
    ({"all": ",".join(["NY"] * 6), "none": ",".join(["Cool"] * 5)}, "too_many_tags", None),
    ({"all": "NY", "limit": 0}, "out_of_range", "limit"),
    ({"all": "NY", "limit": 101}, "out_of_range", "limit"),
    ({"all": "NY", "page": 2}, "unknown_parameter", "page"),
    ({"all": "x" * 4097}, "too_long", "all"),
])
def test_bad_queries_are_400(invoke: Invoke, small: dict[str, str], query: dict[str, Any], code: str,
                             field: str | None) -> None:
    assert_error(invoke("GET", "/conversations", query=query), 400, code, field)


def test_ten_tags_are_accepted(invoke: Invoke, small: dict[str, str]) -> None:
    assert found(invoke, all=",".join(["NY"] * 5), none=",".join(["Cool"] * 5)) == ["c1"]


def test_an_unknown_kind_is_404_and_a_read_key_may_search(invoke: Invoke, small: dict[str, str]) -> None:
    assert_error(invoke("GET", "/users", query={"all": "NY"}), 404, "not_found")
    read = invoke("GET", "/conversations", query={"all": "NY"}, role="read")
    assert read.status == 200 and [o["id"] for o in read.data] == ["c1", "c2"]


def test_forged_and_foreign_cursors_are_400(invoke: Invoke, small: dict[str, str], other_tenant: Any) -> None:
    cursor = invoke("GET", "/conversations", query={"all": "NY", "limit": 1}).json["meta"]["next_cursor"]
    assert cursor
    body, _, signature = cursor.partition(".")
    for forged in (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), f"{body}.{signature[::-1]}", "garbage",
                   body[:-2] + "." + signature):
        assert_error(invoke("GET", "/conversations", query={"all": "NY", "cursor": forged}), 400, "invalid_cursor",
                     "cursor")
    for query in ({"all": "NY", "none": "Cool"}, {"any": "NY"}, {"all": "Cool"}):  # another query's cursor
        assert_error(invoke("GET", "/conversations", query={**query, "cursor": cursor}), 400, "invalid_cursor")
    assert_error(invoke("GET", "/customers", query={"all": "NY", "cursor": cursor}), 400, "invalid_cursor")
    other = invoke("GET", "/conversations", query={"all": "NY", "cursor": cursor}, tenant=other_tenant)
    assert other.status == 400
    resumed = invoke("GET", "/conversations", query={"all": "NY", "limit": 1, "cursor": cursor})
    assert [o["id"] for o in resumed.data] == ["c2"]


def test_a_selective_query_reads_its_tag_not_the_tenant(invoke: Invoke, small: dict[str, str],
                                                        call_counter: CallCounter, stream: StreamPoller) -> None:
    common = new_tag(invoke, "Common")["id"]
    for i in range(40):
        ok_attach(invoke, "conversations", f"bulk-{i:02d}", ids=[common])
    ok_attach(invoke, "conversations", "c1", ids=[common])
    stream.drain()
    call_counter.reset()
    assert found(invoke, all="Common,Hot Lead") == ["c1"]  # starts from Hot Lead (1 object), not Common (41)
    # names → ids (name locks, then the tags), the driver's reverse entries, their tag sets
    assert call_counter.calls == ["BatchGetItem", "BatchGetItem", "Query", "BatchGetItem"]
