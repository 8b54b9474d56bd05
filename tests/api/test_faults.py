"""Fault injection: DynamoDB throttling, 500s and cancelled transactions under every endpoint.

Faults are injected per HTTP attempt of the layer's own client (`tags_core.db.client()`; the `faults` fixture in
api/conftest.py), on botocore's `before-send` event, so the client's retry policy (standard mode, 4 attempts) sees
them exactly as it would see DynamoDB's answers; an injected attempt never reaches moto. botocore's backoff delay is
recorded and set to zero, so the tests do not sleep for seconds.

What a client may see (docs/api.md, docs/errors.md): 503 `service_unavailable` with `Retry-After` in the error envelope
when the store keeps failing, or the precise 4xx a cancelled transaction means; never a 500. What the table may
hold afterwards: no partial state. Every name lock has its tag, every count equals a recount, usage equals the
objects carrying the tag, and a merge or ungroup that stopped half-way is one that a retry finishes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tags_core.names import name_key, name_lock_suffix
from tags_tools.local.stream_poller import StreamPoller
from tests.api.conftest import TIMEOUT
from tests.helpers import KINDS, RFC3339_MILLIS, Invoke, assert_error, codec, db, scan

if TYPE_CHECKING:
    from tests.api.conftest import Faults, Seed  # the `faults` and `seed` fixtures' types


MAX_ATTEMPTS = 4  # tags_core.db: retries={"mode": "standard", "total_max_attempts": 4}
THROTTLES = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]


# --- the table, read back ------------------------------------------------------------------------------------------

def assert_consistent(table: str) -> None:
    """No partial state: locks and their tags and groups, counters, usage and merge marks all agree."""
    items = [codec.from_item(i) for i in scan(table)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_type.setdefault(str(item.get("item_type")), []).append(item)
    tags = {(t["tenant"], t["id"]): t for t in by_type.get("tag", [])}
    groups = {(g["tenant"], g["id"]): g for g in by_type.get("group", [])}
    locks = {(lock["PK"], lock["SK"]): lock for lock in by_type.get("tag_name", [])}
    group_locks = {(lock["PK"], lock["SK"]): lock for lock in by_type.get("group_name", [])}

    for (tenant, tag_id), tag in tags.items():
        own = locks.get((f"T#{tenant}", f"NAME#TAG#{name_lock_suffix(tag['name'])}"))
        assert own is not None and own["tag_id"] == tag_id, f"tag {tag['name']!r} has no name lock"
        for alias in tag.get("aliases") or []:
            lock = locks.get((f"T#{tenant}", f"NAME#TAG#{name_lock_suffix(alias)}"))
            assert lock is not None and lock["tag_id"] == tag_id, f"alias {alias!r} of {tag['name']!r} not held"
        if tag.get("group_id"):
            assert (tenant, tag["group_id"]) in groups, f"tag {tag['name']!r} in a group that does not exist"
        if tag.get("merged_into"):
            target = tags.get((tenant, tag["merged_into"]))
            assert target is not None and tag_id in (target.get("merge_sources") or set()), "unpinned merge"
        for source in tag.get("merge_sources") or set():
            assert tags.get((tenant, source), {}).get("merged_into") == tag_id, "stale merge pin"
    for lock in locks.values():
        tag = tags.get((lock["tenant"], lock["tag_id"]))
        assert tag is not None, f"name lock {lock['name']!r} without its tag"
        names = [tag["name"], *(tag.get("aliases") or [])]
        assert name_key(lock["name"]) in {name_key(n) for n in names}, f"lock {lock['name']!r} on another name"

    for (tenant, group_id), group in groups.items():
        lock = group_locks.get((f"T#{tenant}", f"NAME#GROUP#{name_lock_suffix(group['name'])}"))
        assert lock is not None and lock["group_id"] == group_id, f"group {group['name']!r} has no name lock"
        members = sum(1 for (t, _), tag in tags.items() if t == tenant and tag.get("group_id") == group_id)
        assert int(group.get("tag_count", 0)) == members, f"group {group['name']!r}: count is not a recount"
    for lock in group_locks.values():
        assert (lock["tenant"], lock["group_id"]) in groups, f"group lock {lock['name']!r} without its group"

    for meta in by_type.get("tenant", []):
        tenant = meta["tenant"]
        assert int(meta.get("tag_count", 0)) == sum(1 for t, _ in tags if t == tenant), "tenant tag_count"
        assert int(meta.get("group_count", 0)) == sum(1 for t, _ in groups if t == tenant), "tenant group_count"

    carried: Counter[tuple[str, str, str]] = Counter()
    for tag_set in by_type.get("tag_set", []):
        for tag_id in tag_set.get("tags") or {}:
            carried[(tag_set["tenant"], tag_id, tag_set["kind"])] += 1
    for (tenant, tag_id), tag in tags.items():
        usage = {kind: int((tag.get("usage") or {}).get(kind, 0)) for kind in KINDS.values()}
        assert usage == {kind: carried[(tenant, tag_id, kind)] for kind in KINDS.values()}, f"usage of {tag['name']!r}"


def objects_view(table: str, same: dict[str, str] | None = None) -> dict[tuple[str, str], set[str]]:
    """The live tags each object carries (ids; a tag merged away, or mapped by `same`, reads as its target)."""
    items = [codec.from_item(i) for i in scan(table)]
    tags = {t["id"]: t for t in items if t.get("item_type") == "tag"}
    view: dict[tuple[str, str], set[str]] = {}
    for tag_set in (i for i in items if i.get("item_type") == "tag_set"):
        carried = set()
        for stored in tag_set.get("tags") or {}:
            tag_id = stored
            while tag_id in tags and tags[tag_id].get("merged_into"):
                tag_id = tags[tag_id]["merged_into"]
            tag_id = (same or {}).get(tag_id, tag_id)
            if tag_id in tags:
                carried.add(tag_id)
        view[(tag_set["kind"], tag_set["object_id"])] = carried
    return view


def assert_unavailable(result: Any) -> None:
    """503 service_unavailable in the envelope, with Retry-After; never a 500, never AWS's words."""
    assert result.status == 503, (result.status, result.json)
    retry_after = result.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, result.headers
    body = result.json
    assert set(body) == {"status", "description", "response_time", "request_id", "errors"}, body
    assert (body["status"], body["description"]) == (503, "Service Unavailable")
    assert RFC3339_MILLIS.match(body["response_time"])
    assert body["request_id"] == result.headers["X-Request-Id"]
    assert [e["code"] for e in body["errors"]] == ["service_unavailable"]
    assert "injected" not in result.text and "Exception" not in result.text


# --- what the requests act on -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {tag}, {other}, {group}
    body: Any
    ok: int  # the status when nothing fails
    store_op: str  # the DynamoDB operation that does the route's work (the one to fail)
    stream: bool = False  # needs the reverse index (the table's stream drained first)


ROUTE_LIST = {
    "create-tag": Route("POST", "/tags", {"name": "Fresh"}, 201, "TransactWriteItems"),
    "batch-create": Route("POST", "/tags/batch", {"tags": ["Fresh", "Existing", "New"]}, 200, "TransactWriteItems"),
    "list-tags": Route("GET", "/tags", None, 200, "Query"),
    "get-tag": Route("GET", "/tags/{tag}", None, 200, "GetItem"),
    "replace-tag": Route("PUT", "/tags/{tag}", {"name": "Renamed"}, 200, "TransactWriteItems"),
    "update-tag": Route("PATCH", "/tags/{tag}", {"name": "Renamed", "group_id": None}, 200, "TransactWriteItems"),
    "delete-tag": Route("DELETE", "/tags/{other}", None, 200, "TransactWriteItems"),
    "create-group": Route("POST", "/tag-groups", {"name": "Fresh"}, 201, "TransactWriteItems"),
    "list-groups": Route("GET", "/tag-groups", None, 200, "Query"),
    "get-group": Route("GET", "/tag-groups/{group}", None, 200, "GetItem"),
    "update-group": Route("PATCH", "/tag-groups/{group}", {"name": "Renamed"}, 200, "TransactWriteItems"),
    "delete-group-ungroup": Route("DELETE", "/tag-groups/{group}?ungroup=true", None, 200, "TransactWriteItems"),
    "list-object-tags": Route("GET", "/conversations/c-1/tags", None, 200, "BatchGetItem"),
    "append-object-tags": Route("POST", "/conversations/c-1/tags", {"tags": ["Fresh"], "tag_ids": ["{other}"]}, 200,
                                "TransactWriteItems"),
    "replace-object-tags": Route("PUT", "/customers/u-1/tags", {"tags": ["Other", "Fresh"]}, 200,
                                 "TransactWriteItems"),
    "remove-object-tag": Route("DELETE", "/conversations/c-1/tags/{tag}", None, 200, "TransactWriteItems"),
    "list-tag-objects": Route("GET", "/tags/{tag}/objects", None, 200, "Query", stream=True),
    "merge-tag": Route("POST", "/tags/{other}/merge", {"into": "{tag}"}, 200, "TransactWriteItems", stream=True),
    "archive-tag": Route("POST", "/tags/{other}/archive", None, 200, "TransactWriteItems"),
    "restore-tag": Route("POST", "/tags/{other}/restore", None, 200, "GetItem"),
    "list-object-history": Route("GET", "/conversations/c-1/tags/history", None, 200, "Query", stream=True),
    "find-objects": Route("GET", "/conversations?all={tag}&any=Other", None, 200, "Query",
                          stream=True),
    "bulk-inline": Route("POST", "/conversations/tags/bulk", {"objects": ["c-1", "c-2"], "add": ["Fresh", "{other}"],
                                                              "remove": ["{tag}"]}, 200, "TransactWriteItems"),
    "get-bulk-job": Route("GET", "/bulk-jobs/{tag}", None, 404, "GetItem"),
}
STORE_ERRORS = [*THROTTLES, "InternalServerError"]
CONTENTION = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"]


def _cycle(codes: list[str], writes_only: bool = False) -> list[Any]:
    """Every route once, the codes taken in turn (each code meets several kinds of routes)."""
    routes = [(name, r) for name, r in ROUTE_LIST.items() if r.store_op == "TransactWriteItems" or not writes_only]
    return [pytest.param(route, codes[i % len(codes)], id=f"{name}-{codes[i % len(codes)]}")
            for i, (name, route) in enumerate(routes)]


def _fill(value: Any, seed: Seed) -> Any:
    if isinstance(value, str):
        return value.format(tag=seed.tag, other=seed.other, group=seed.group)
    if isinstance(value, list):
        return [_fill(v, seed) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, seed) for k, v in value.items()}
    return value


def call(invoke: Invoke, route: Route, seed: Seed, **kwargs: Any) -> Any:
    return invoke(route.method, _fill(route.path, seed), body=_fill(route.body, seed), **kwargs)


def prepare(route: Route, request: pytest.FixtureRequest, faults: Faults) -> None:
    if route.stream:
        request.getfixturevalue("stream").drain()
    faults.reset_counts()  # count the request's calls only


def function_timeout(gateway: Any, route: Route) -> float:
    path = re.sub(r"\{\w+\}", "x", route.path.split("?")[0])
    function = gateway.router.match(route.method, path).route.function
    return float(gateway.settings.timeout.get(function, 3))


def test_the_matrix_covers_every_route(gateway: Any) -> None:
    covered = {(r.method, gateway.router.match(r.method, re.sub(r"\{\w+\}", "x", r.path.split("?")[0])).route.path)
               for r in ROUTE_LIST.values()}
    assert covered == {(r.method, r.path) for r in gateway.router.routes}


# --- the store keeps failing: 503 with Retry-After; nothing written unless a write had committed ------------------

WRITE_OPERATIONS = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


@pytest.mark.parametrize(("route", "code"), _cycle(STORE_ERRORS))
def test_the_store_failing_from_any_call_on_answers_503(route: Route, code: str, invoke: Invoke, seed: Seed,
                                                        faults: Faults, table: str, gateway: Any,
                                                        request: pytest.FixtureRequest) -> None:
    """The same request again and again: the first k DynamoDB calls succeed, every attempt after that fails
    (k = 0, 1, 2, ... until the request gets through). Each time: 503 with Retry-After after the client's
    retries, within the function's timeout; the request stops at the failed call; no partial state; and unless a
    write had committed before the failure, the table is untouched."""
    prepare(route, request, faults)
    timeout = function_timeout(gateway, route)
    for k in range(40):
        before = scan(table)
        faults.reset_counts()
        faults.fail(None, code, skip=k)
        result = call(invoke, route, seed)
        faults.clear()
        if not faults.injected:
            assert result.status == route.ok, result.json  # every call of the request succeeded
            break
        assert_unavailable(result)
        (failed, attempts), = faults.injected.items()  # one call failed, on every attempt, and it was the last
        assert attempts == MAX_ATTEMPTS and faults.attempts[failed] == faults.calls[failed] + MAX_ATTEMPTS - 1
        assert sum(faults.calls.values()) == k + 1, faults.calls
        assert len(faults.worst_delays) == MAX_ATTEMPTS - 1
        assert sum(faults.worst_delays) < timeout, faults.worst_delays  # 503 from us, not a Lambda timeout
        assert_consistent(table)
        if not any(faults.attempts[op] > faults.injected[op] for op in WRITE_OPERATIONS):
            assert scan(table) == before, f"nothing was committed, yet the table changed (k={k})"
    else:
        pytest.fail("the request never got through")
    assert k >= 1
    assert_consistent(table)


@pytest.mark.parametrize(("route", "code"), _cycle(STORE_ERRORS))
def test_one_failed_attempt_is_retried_and_succeeds(route: Route, code: str, invoke: Invoke, seed: Seed,
                                                   faults: Faults, table: str, request: pytest.FixtureRequest) -> None:
    prepare(route, request, faults)
    faults.fail(route.store_op, code, times=1)
    result = call(invoke, route, seed)
    assert result.status == route.ok, result.json
    assert faults.injected[route.store_op] == 1
    assert faults.attempts[route.store_op] == faults.calls[route.store_op] + 1  # that one attempt, once more
    assert len(faults.delays) == 1
    assert_consistent(table)


@pytest.mark.parametrize(("route", "reason"), _cycle(CONTENTION, writes_only=True))
def test_a_transaction_cancelled_by_contention_answers_503_and_a_retry_succeeds(
        route: Route, reason: str, invoke: Invoke, seed: Seed, faults: Faults, table: str,
        request: pytest.FixtureRequest) -> None:
    """Cancelled by another transaction or by throttling (not retried by botocore, a 400): 503, nothing written;
    the client's retry after Retry-After succeeds."""
    prepare(route, request, faults)
    before = scan(table)
    faults.cancel({0: {"Code": reason, "Message": "injected"}}, times=1)
    result = call(invoke, route, seed)
    assert_unavailable(result)
    assert scan(table) == before
    again = call(invoke, route, seed)
    assert again.status == route.ok, again.json
    assert_consistent(table)


# --- cancelled on a condition: the precise 4xx ----------------------------------------------------------------------

def test_create_losing_the_name_race_is_409_naming_the_winner(invoke: Invoke, seed: Seed, faults: Faults,
                                                              table: str) -> None:
    before = scan(table)
    lock = {"tag_id": {"S": seed.other}, "name": {"S": "Fresh"}}
    faults.cancel({0: {"Code": "ConditionalCheckFailed", "Item": lock}})
    result = invoke("POST", "/tags", body={"name": "Fresh"})
    error = assert_error(result, 409, "tag_exists")
    assert (error["field"], error["existing_id"]) == ("name", seed.other)
    faults.clear()
    assert scan(table) == before


def test_create_into_a_group_deleted_meanwhile_is_400_group_not_found(invoke: Invoke, seed: Seed, faults: Faults,
                                                                      table: str) -> None:
    before = scan(table)
    faults.cancel({3: {"Code": "ConditionalCheckFailed"}})  # the group's count: the group is gone
    result = invoke("POST", "/tags", body={"name": "Fresh", "group_id": seed.group})
    assert assert_error(result, 400, "group_not_found")["field"] == "group_id"
    faults.clear()
    assert scan(table) == before


def test_rename_losing_the_name_race_is_409(invoke: Invoke, seed: Seed, faults: Faults, table: str) -> None:
    before = scan(table)
    faults.cancel({1: {"Code": "ConditionalCheckFailed", "Item": {"tag_id": {"S": seed.other}}}})
    result = invoke("PATCH", f"/tags/{seed.tag}", body={"name": "Taken meanwhile"})
    assert assert_error(result, 409, "tag_exists")["existing_id"] == seed.other
    faults.clear()
    assert scan(table) == before


def test_a_tag_that_keeps_changing_is_412_after_three_attempts(invoke: Invoke, seed: Seed, faults: Faults,
                                                               table: str) -> None:
    before = scan(table)
    faults.cancel({0: {"Code": "ConditionalCheckFailed"}})  # the version moved, every time
    result = invoke("PATCH", f"/tags/{seed.tag}", body={"description": "x"})
    assert_error(result, 412, "precondition_failed")
    assert faults.injected["TransactWriteItems"] == 3
    faults.clear()
    assert scan(table) == before


def test_a_group_filled_meanwhile_is_409_group_not_empty(invoke: Invoke, faults: Faults, table: str) -> None:
    group = invoke("POST", "/tag-groups", body={"name": "Empty"}).data["id"]
    before = scan(table)
    faults.cancel({0: {"Code": "ConditionalCheckFailed", "Item": {"tag_count": {"N": "1"}}}})
    result = invoke("DELETE", f"/tag-groups/{group}")
    assert assert_error(result, 409, "group_not_empty")["tag_count"] == 1
    faults.clear()
    assert scan(table) == before


def test_a_write_budget_changed_meanwhile_is_read_again(invoke: Invoke, seed: Seed, faults: Faults,
                                                         table: str) -> None:
    """Another write of the same key moved the budget item between the read and the transaction: the write reads
    it again and commits once, charged once."""
    faults.cancel({1: {"Code": "ConditionalCheckFailed"}}, times=1)  # the budget item's `seq` condition
    result = invoke("POST", "/conversations/c-1/tags", body={"tags": ["Fresh"]})
    assert result.status == 200, result.json
    assert faults.injected["TransactWriteItems"] == 1
    assert "Fresh" in [t["name"] for t in result.data]
    remaining = result.headers["RateLimit"].split(", ")[1]
    assert remaining == "remaining=8"  # the seed's write to c-1 and this one: charged once


def test_a_budget_that_keeps_changing_is_503_and_writes_nothing(invoke: Invoke, seed: Seed, faults: Faults,
                                                                table: str) -> None:
    before = scan(table)
    faults.cancel({1: {"Code": "ConditionalCheckFailed"}})
    assert_unavailable(invoke("POST", "/conversations/c-1/tags", body={"tags": ["Fresh"]}))
    faults.clear()
    assert scan(table) == before


def test_an_object_that_keeps_changing_is_503_after_six_attempts(invoke: Invoke, seed: Seed, faults: Faults,
                                                                  table: str) -> None:
    before = scan(table)
    faults.cancel({0: {"Code": "ConditionalCheckFailed"}})  # the set's version moved, every time
    result = invoke("POST", "/conversations/c-1/tags", body={"tags": ["Fresh"]})
    assert_unavailable(result)
    assert faults.injected["TransactWriteItems"] == 6
    faults.clear()
    assert scan(table) == before


def test_a_tag_deleted_during_an_attach_by_id_is_400_tag_not_found(invoke: Invoke, seed: Seed, faults: Faults,
                                                                   table: str) -> None:
    before = scan(table)
    faults.cancel({2: {"Code": "ConditionalCheckFailed"}})  # the added tag's ATTACHABLE condition, no old item
    result = invoke("POST", "/customers/u-1/tags", body={"tag_ids": [seed.other]})
    assert assert_error(result, 400, "tag_not_found")["tag_ids"] == [seed.other]
    faults.clear()
    assert scan(table) == before


def test_a_merge_racing_another_merge_is_409(invoke: Invoke, seed: Seed, faults: Faults, table: str) -> None:
    before = scan(table)
    faults.cancel({1: {"Code": "ConditionalCheckFailed"}})
    result = invoke("POST", f"/tags/{seed.other}/merge", body={"into": seed.tag})
    assert_error(result, 409, "merge_in_progress")
    faults.clear()
    assert scan(table) == before


# --- multi-step operations stopped half-way: consistent, and a retry finishes them ---------------------------------

def _is_step(kind: str, tag_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """Which TransactWriteItems to fail: 'move' (tag sets moving to the target), 'finish' (deleting the merged
    source), 'delete-group', 'ungroup', 'attach' (a tag set written)."""

    def matches(body: dict[str, Any]) -> bool:
        actions = body.get("TransactItems", [])
        keys = [next(iter(a.values())).get("Key") or next(iter(a.values())).get("Item", {}) for a in actions]
        sks = [k.get("SK", {}).get("S", "") for k in keys]
        pks = [k.get("PK", {}).get("S", "") for k in keys]
        kinds = [next(iter(a)) for a in actions]
        if kind == "move":
            return any("#O#" in pk for pk in pks) and all(k == "Update" for k in kinds)
        if kind == "finish":
            return kinds[0] == "Delete" and sks[0] == f"TAG#{tag_id}"
        if kind == "delete-group":
            return kinds[0] == "Delete" and sks[0].startswith("GROUP#")
        if kind == "ungroup":
            return kinds[-1] == "Update" and sks[-1].startswith("GROUP#") and all(s.startswith("TAG#") or
                                                                                s.startswith("GROUP#")
                                                                                for s in sks)
        if kind == "attach":
            return any(sk == "SET" for sk in sks)
        raise AssertionError(kind)

    return matches


@pytest.mark.parametrize("step", ["move", "finish"])
def test_a_merge_stopped_by_the_store_is_consistent_and_a_retry_finishes_it(
        step: str, invoke: Invoke, seed: Seed, faults: Faults, table: str, stream: StreamPoller) -> None:
    stream.drain()
    merged = {seed.other: seed.tag}
    view = objects_view(table, merged)
    faults.fail("TransactWriteItems", when=_is_step(step, seed.other))
    result = invoke("POST", f"/tags/{seed.other}/merge", body={"into": seed.tag})
    assert_unavailable(result)
    assert faults.injected["TransactWriteItems"] == MAX_ATTEMPTS
    faults.clear()
    assert_consistent(table)
    assert objects_view(table, merged) == view  # no object lost or gained a tag: nothing half-moved
    # meanwhile the source is closed to new attachments: attaching it by name attaches the target
    attached = invoke("POST", "/comments/m-1/tags", body={"tags": ["Other"]})
    assert attached.status == 200 and [t["id"] for t in attached.data] == [seed.tag], attached.json
    stream.drain()

    again = invoke("POST", f"/tags/{seed.other}/merge", body={"into": seed.tag})
    assert again.status == 200 and again.data["status"] == "merged", again.json
    assert_consistent(table)
    assert invoke("GET", f"/tags/{seed.other}").status == 404
    assert invoke("GET", f"/tags/{seed.tag}").data["usage"] == {"conversation": 1, "customer": 1, "comment": 1}
    listed = invoke("GET", "/conversations/c-1/tags").data
    assert [t["id"] for t in listed] == [seed.tag]


def test_a_merge_that_lost_its_last_step_to_a_race_answers_503_and_a_retry_finishes(
        invoke: Invoke, seed: Seed, faults: Faults, table: str, stream: StreamPoller) -> None:
    stream.drain()
    merged = {seed.other: seed.tag}
    view = objects_view(table, merged)
    faults.cancel({0: {"Code": "ConditionalCheckFailed"}}, times=1, when=_is_step("finish", seed.other))
    result = invoke("POST", f"/tags/{seed.other}/merge", body={"into": seed.tag})
    assert_unavailable(result)
    assert_consistent(table)
    assert objects_view(table, merged) == view
    again = invoke("POST", f"/tags/{seed.other}/merge", body={"into": seed.tag})
    assert again.status == 200 and again.data["status"] == "merged", again.json
    assert_consistent(table)


@pytest.mark.parametrize("step", ["ungroup", "delete-group"])
def test_an_ungroup_stopped_by_the_store_is_consistent_and_a_retry_finishes_it(
        step: str, invoke: Invoke, seed: Seed, faults: Faults, table: str) -> None:
    for name in ("Second", "Third"):
        assert invoke("POST", "/tags", body={"name": name, "group_id": seed.group}).status == 201
    faults.fail("TransactWriteItems", THROTTLES[0], when=_is_step(step))
    result = invoke("DELETE", f"/tag-groups/{seed.group}", query={"ungroup": "true"})
    assert_unavailable(result)
    faults.clear()
    assert_consistent(table)  # the group's tag_count still equals the tags in it
    assert invoke("GET", f"/tag-groups/{seed.group}").status == 200
    again = invoke("DELETE", f"/tag-groups/{seed.group}", query={"ungroup": "true"})
    assert again.status == 200, again.json
    assert_consistent(table)
    assert {t["group_id"] for t in invoke("GET", "/tags").data} == {None}


def test_a_batch_stopped_half_way_is_consistent_and_a_retry_completes_it(invoke: Invoke, seed: Seed,
                                                                         faults: Faults, table: str) -> None:
    names = ["One", "Two", "Three", "Four"]
    faults.fail("TransactWriteItems", THROTTLES[0], skip=2)  # the first two tags commit, then the store fails
    result = invoke("POST", "/tags/batch", body={"tags": names})
    assert_unavailable(result)
    faults.clear()
    assert_consistent(table)
    again = invoke("POST", "/tags/batch", body={"tags": names})
    assert again.status == 200, again.json
    reported = [t["name"] for t in again.data["inserted"]] + [t["name"] for t in again.data["existing"]]
    assert sorted(reported) == sorted(names) and again.data["errors"] == []
    all_names = [t["name"] for t in invoke("GET", "/tags", query={"limit": 100}).data]
    assert sorted(all_names) == sorted([*names, "Existing", "Other"])
    assert_consistent(table)


def test_a_large_attach_stopped_half_way_is_consistent_and_a_retry_completes_it(invoke: Invoke, seed: Seed,
                                                                                faults: Faults, table: str) -> None:
    """More new names than one transaction holds: the tags are created first, then attached. The attach fails."""
    names = [f"bulk {i:02d}" for i in range(49)]  # 2 x 49 + 3 actions: over the 100 of one transaction
    faults.fail("TransactWriteItems", THROTTLES[0], when=_is_step("attach"))
    result = invoke("POST", "/comments/m-9/tags", body={"tags": names})
    assert_unavailable(result)
    faults.clear()
    assert_consistent(table)
    assert invoke("GET", "/comments/m-9/tags").data == []
    again = invoke("POST", "/comments/m-9/tags", body={"tags": names})
    assert again.status == 200, again.json
    assert sorted(t["name"] for t in again.data) == names
    assert invoke("GET", "/tags").json["meta"]["total"] == 51
    assert_consistent(table)


# --- retries across requests: Idempotency-Key and the authorizer -------------------------------------------------

def test_a_503_is_not_remembered_under_its_idempotency_key(invoke: Invoke, seed: Seed, faults: Faults,
                                                           table: str) -> None:
    headers = {"Idempotency-Key": "create-fresh-1"}
    faults.fail("TransactWriteItems", THROTTLES[0])
    first = invoke("POST", "/tags", body={"name": "Fresh"}, headers=headers)
    assert_unavailable(first)
    faults.clear()
    retried = invoke("POST", "/tags", body={"name": "Fresh"}, headers=headers)
    assert retried.status == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers
    replayed = invoke("POST", "/tags", body={"name": "Fresh"}, headers=headers)
    assert replayed.status == 201 and replayed.data == retried.data
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert_consistent(table)


def test_a_store_that_does_not_answer_in_time_is_503_and_nothing_is_written(invoke: Invoke, seed: Seed,
                                                                           faults: Faults, table: str) -> None:
    before = scan(table)
    faults.fail(None, TIMEOUT)
    assert_unavailable(invoke("POST", "/tags", body={"name": "Fresh"}))
    assert faults.attempts["TransactWriteItems"] + faults.attempts["Query"] + faults.attempts["GetItem"] >= 4
    faults.clear()
    assert scan(table) == before


def test_a_transaction_retried_after_a_timeout_carries_its_client_request_token(invoke: Invoke, seed: Seed,
                                                                               faults: Faults, table: str) -> None:
    tokens: list[str] = []
    faults.fail("TransactWriteItems", TIMEOUT, times=1, when=lambda body: not tokens.append(body["ClientRequestToken"]))
    created = invoke("POST", "/tags", body={"name": "Fresh"})
    assert created.status == 201, created.json
    # botocore fills the token in and resends it: DynamoDB answers the repeat as the first (see the infra tests)
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    other = invoke("POST", "/tags", body={"name": "Second fresh"})
    assert other.status == 201 and tokens[-1] != tokens[0]
    assert_consistent(table)


def test_a_throttled_idempotency_record_answers_503_and_does_nothing(invoke: Invoke, seed: Seed, faults: Faults,
                                                                     table: str) -> None:
    before = scan(table)
    faults.fail("PutItem", THROTTLES[0])  # Powertools' in-progress record
    result = invoke("POST", "/tags", body={"name": "Fresh"}, headers={"Idempotency-Key": "create-fresh-2"})
    assert_unavailable(result)
    assert faults.calls["TransactWriteItems"] == 0  # the request itself did not run
    faults.clear()
    assert scan(table) == before


def test_a_throttled_authorizer_answers_503(invoke: Invoke, tenant: Any, faults: Faults) -> None:
    faults.fail("GetItem", THROTTLES[0])
    result = invoke("GET", "/tags", key=tenant.read_key)
    assert_unavailable(result)


# --- batch reads that DynamoDB only partly serves ----------------------------------------------------------------

def test_unprocessed_batch_keys_are_retried_and_the_answer_is_complete(invoke: Invoke, seed: Seed, faults: Faults,
                                                                       table: str) -> None:
    """BatchGetItem under throttling returns some keys as UnprocessedKeys; the layer asks again for them."""
    withheld = {"count": 0}

    def withhold_one(parsed: dict[str, Any], **_: Any) -> None:
        keys = [k for t in (parsed.get("Responses") or {}).values() for k in t]
        if withheld["count"] < 3 and len(keys) > 1:
            withheld["count"] += 1
            table_name, items = next(iter(parsed["Responses"].items()))
            held = items.pop()
            parsed["UnprocessedKeys"] = {table_name: {"Keys": [{"PK": held["PK"], "SK": held["SK"]}],
                                                      "ConsistentRead": True}}

    db.client().meta.events.register("after-call.dynamodb.BatchGetItem", withhold_one)
    try:
        listed = invoke("GET", "/conversations/c-1/tags")
    finally:
        db.client().meta.events.unregister("after-call.dynamodb.BatchGetItem", withhold_one)
    assert listed.status == 200, listed.json
    assert withheld["count"] >= 1
    assert sorted(t["name"] for t in listed.data) == ["Existing", "Other"]


def test_batch_keys_that_stay_unprocessed_answer_503_without_spinning(invoke: Invoke, seed: Seed, faults: Faults,
                                                                      table: str) -> None:
    """A table too throttled to serve a BatchGetItem at all: bounded attempts, then 503 (not a Lambda timeout)."""
    served = {"calls": 0}

    def serve_nothing(parsed: dict[str, Any], **_: Any) -> None:
        served["calls"] += 1
        if served["calls"] > 50:
            return  # let the test end if the layer never gives up
        for table_name, items in (parsed.get("Responses") or {}).items():
            keys = [{"PK": i["PK"], "SK": i["SK"]} for i in items]
            parsed["UnprocessedKeys"] = {table_name: {"Keys": keys, "ConsistentRead": True}}
            items.clear()

    db.client().meta.events.register("after-call.dynamodb.BatchGetItem", serve_nothing)
    try:
        result = invoke("GET", "/conversations/c-1/tags")
    finally:
        db.client().meta.events.unregister("after-call.dynamodb.BatchGetItem", serve_nothing)
    assert served["calls"] <= 10, f"{served['calls']} BatchGetItem calls for one request"
    assert_unavailable(result)
