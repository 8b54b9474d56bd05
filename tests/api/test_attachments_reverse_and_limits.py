"""Tags on objects (in process, through the local gateway), continued: a deleted tag leaves every object, the
reverse lookup GET /tags/{id}/objects (after draining the table's DynamoDB stream), the per key and object rate limit,
tenancy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import (
    KINDS,
    MISSING_ID,
    RFC3339_UTC,
    Invoke,
    Principal,
    Repository,
    all_tags,
    assert_usage_exact,
    attach,
    create_api_key,
    db,
    follow,
    listed_names,
    new_tag,
    object_tags,
    ok_attach,
)

# --- helpers -----------------------------------------------------------------------------------------------------

def stored_set(tenant: str, kind: str, object_id: str) -> dict[str, str]:
    """The object's tag set as stored (tag id -> attached_at), deleted tags included."""
    return (Repository().get_tag_set(tenant, KINDS[kind], object_id) or {}).get("tags") or {}


def follow_reverse(invoke: Invoke, tag_id: str, **query: Any) -> list[dict[str, Any]]:
    """Every object GET /tags/{id}/objects lists, following the cursor."""
    return follow(invoke, f"/tags/{tag_id}/objects", **query)


# --- deleting a tag ----------------------------------------------------------------------------------------------

def test_deleted_tag_disappears_from_every_object_at_once(invoke: Invoke, stream: StreamPoller,
                                                          tenant: Any) -> None:
    doomed = new_tag(invoke, "doomed")
    objects = [("conversations", "c1"), ("customers", "u1"), ("comments", "m1"), ("comments", "m2")]
    for kind, object_id in objects:
        ok_attach(invoke, kind, object_id, ["keep"], [doomed["id"]])
    stream.drain()
    assert len(follow_reverse(invoke, doomed["id"])) == 4

    assert invoke("DELETE", f"/tags/{doomed['id']}").status == 200
    for kind, object_id in objects:  # before the stream runs
        assert listed_names(invoke, kind, object_id) == ["keep"]
    assert invoke("GET", f"/tags/{doomed['id']}/objects").status == 404
    appended = ok_attach(invoke, "comments", "m2", ["later"])
    assert [t["name"] for t in appended.data] == ["keep", "later"]
    assert_usage_exact(invoke, objects)

    stream.drain()
    for kind, object_id in objects:
        assert doomed["id"] not in stored_set(tenant.id, kind, object_id)
        assert listed_names(invoke, kind, object_id) in (["keep"], ["keep", "later"])
    leftovers, _ = Repository().query_reverse(tenant.id, doomed["id"], None, 100, None)
    assert leftovers == []

    # the name is free: attaching it again makes a new tag
    again = ok_attach(invoke, "conversations", "c1", ["doomed"])
    reborn = next(t for t in again.data if t["name"] == "doomed")
    assert reborn["id"] != doomed["id"]
    assert_usage_exact(invoke, objects)


def test_clean_up_is_not_undone_by_a_write_that_read_before_it(invoke: Invoke, stream: StreamPoller,
                                                                tenant: Any) -> None:
    doomed = new_tag(invoke, "doomed")
    ok_attach(invoke, "conversations", "c1", ["keep"], [doomed["id"]])
    stream.drain()
    assert invoke("DELETE", f"/tags/{doomed['id']}").status == 200

    # The stream runs between the next writer's read of the set and its write: the interleaving a busy object
    # sees in production, made deterministic by running the stream at the writer's TransactWriteItems.
    events = db.client().meta.events

    def clean_up_now(**_: Any) -> None:
        events.unregister("before-call.dynamodb.TransactWriteItems", clean_up_now)
        stream.drain()
        assert doomed["id"] not in stored_set(tenant.id, "conversations", "c1")

    events.register("before-call.dynamodb.TransactWriteItems", clean_up_now)
    try:
        ok_attach(invoke, "conversations", "c1", ["other"])
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", clean_up_now)
    stream.drain()
    assert listed_names(invoke, "conversations", "c1") == ["keep", "other"]
    assert doomed["id"] not in stored_set(tenant.id, "conversations", "c1")


# --- reverse lookup ----------------------------------------------------------------------------------------------

OBJECTS = [("comments", "m1"), ("conversations", "c1"), ("conversations", "c2"), ("conversations", "c3"),
           ("customers", "u1"), ("customers", "u2"), ("comments", "m2")]


@pytest.fixture
def spread(invoke: Invoke, stream: StreamPoller) -> dict[str, Any]:
    """One tag on seven objects of three kinds (and another tag on two of them), the stream drained."""
    tag = new_tag(invoke, "spread")
    other = new_tag(invoke, "other")
    before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    for kind, object_id in OBJECTS:
        ok_attach(invoke, kind, object_id, ids=[tag["id"]])
    ok_attach(invoke, "conversations", "c1", ids=[other["id"]])
    ok_attach(invoke, "customers", "u9", ids=[other["id"]])
    stream.drain()
    return {"tag": tag, "other": other, "before": before}


def test_reverse_lookup_lists_every_object(invoke: Invoke, spread: dict[str, Any]) -> None:
    result = invoke("GET", f"/tags/{spread['tag']['id']}/objects")
    assert result.status == 200, result.json
    assert result.json["meta"] == {"next_cursor": None}
    found = [(o["kind"], o["id"]) for o in result.data]
    expected = sorted((KINDS[k], o) for k, o in OBJECTS)
    assert sorted(found) == expected
    assert found == expected  # by kind, then id
    for entry in result.data:
        assert set(entry) == {"kind", "id", "attached_at"}
        assert RFC3339_UTC.match(entry["attached_at"]) and entry["attached_at"] >= spread["before"]
    other = invoke("GET", f"/tags/{spread['other']['id']}/objects").data
    assert [(o["kind"], o["id"]) for o in other] == [("conversation", "c1"), ("customer", "u9")]


@pytest.mark.parametrize("kind", list(KINDS))
def test_reverse_lookup_filters_by_kind(invoke: Invoke, spread: dict[str, Any], kind: str) -> None:
    result = invoke("GET", f"/tags/{spread['tag']['id']}/objects", query={"kind": kind})
    assert result.status == 200, result.json
    assert sorted(o["id"] for o in result.data) == sorted(o for k, o in OBJECTS if k == kind)
    assert {o["kind"] for o in result.data} == {KINDS[kind]}


@pytest.mark.parametrize(("limit", "kind"), [(1, None), (2, None), (3, None), (7, None), (1, "conversations"),
                                             (2, "comments")])
def test_reverse_lookup_cursor_visits_each_object_once(invoke: Invoke, spread: dict[str, Any], limit: int,
                                                       kind: str | None) -> None:
    query: dict[str, Any] = {"limit": limit, **({"kind": kind} if kind else {})}
    pages = []
    cursor = None
    for _ in range(20):
        result = invoke("GET", f"/tags/{spread['tag']['id']}/objects",
                        query={**query, **({"cursor": cursor} if cursor else {})})
        assert result.status == 200, result.json
        assert len(result.data) <= limit
        pages.append(result.data)
        cursor = result.json["meta"]["next_cursor"]
        if not cursor:
            break
    seen = [(o["kind"], o["id"]) for page in pages for o in page]
    expected = sorted((KINDS[k], o) for k, o in OBJECTS if kind is None or k == kind)
    assert seen == expected


def test_reverse_lookup_refuses_forged_and_foreign_cursors(invoke: Invoke, spread: dict[str, Any],
                                                           other_tenant: Any) -> None:
    tag_id = spread["tag"]["id"]
    cursor = invoke("GET", f"/tags/{tag_id}/objects", query={"limit": 2}).json["meta"]["next_cursor"]
    assert cursor
    body, _, signature = cursor.partition(".")
    tampered = [cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), body + "." + signature[::-1], "garbage",
                body[:-2] + "." + signature]
    for forged in tampered:
        result = invoke("GET", f"/tags/{tag_id}/objects", query={"limit": 2, "cursor": forged})
        assert result.status == 400, (forged, result.json)
        assert result.error_codes == ["invalid_cursor"]
    for query in ({"kind": "customers"},):
        result = invoke("GET", f"/tags/{tag_id}/objects", query={"limit": 2, "cursor": cursor, **query})
        assert result.status == 400 and result.error_codes == ["invalid_cursor"]
    other_tag = invoke("GET", f"/tags/{spread['other']['id']}/objects", query={"limit": 2, "cursor": cursor})
    assert other_tag.status == 400 and other_tag.error_codes == ["invalid_cursor"]


def test_reverse_lookup_of_unknown_or_foreign_tags_is_404(invoke: Invoke, spread: dict[str, Any],
                                                          other_tenant: Any) -> None:
    for tag_id in (MISSING_ID, "nope"):
        result = invoke("GET", f"/tags/{tag_id}/objects")
        assert result.status == 404, result.json
        assert result.error_codes == ["not_found"]
    foreign = invoke("GET", f"/tags/{spread['tag']['id']}/objects", tenant=other_tenant)
    assert foreign.status == 404 and foreign.error_codes == ["not_found"]


@pytest.mark.parametrize("query", [{"kind": "conversation"}, {"kind": "users"}, {"limit": 0}, {"limit": 101},
                                   {"page": 2}])
def test_reverse_lookup_rejects_bad_parameters(invoke: Invoke, spread: dict[str, Any], query: Any) -> None:
    result = invoke("GET", f"/tags/{spread['tag']['id']}/objects", query=query)
    assert result.status == 400, result.json


def test_reverse_lookup_follows_detach_and_replace(invoke: Invoke, spread: dict[str, Any],
                                                   stream: StreamPoller) -> None:
    tag_id = spread["tag"]["id"]
    assert invoke("DELETE", f"/conversations/c2/tags/{tag_id}").status == 200
    assert attach(invoke, "customers", "u1", ["replacement"], method="PUT").status == 200
    ok_attach(invoke, "customers", "u3", ids=[tag_id])
    stream.drain()
    found = sorted((o["kind"], o["id"]) for o in follow_reverse(invoke, tag_id))
    expected = sorted({(KINDS[k], o) for k, o in OBJECTS} - {("conversation", "c2"), ("customer", "u1")}
                      | {("customer", "u3")})
    assert found == expected


# --- rate limit --------------------------------------------------------------------------------------------------

WINDOW = 3600


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch, table: str) -> Iterator[None]:
    """3 writes per key and object in any hour (a sliding window: no boundary refills the budget mid-test)."""
    monkeypatch.setenv("RATE_LIMIT_WRITES", "3")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", str(WINDOW))
    db.reset()
    yield
    db.reset()


def assert_rate_limited(result: Any) -> None:
    assert result.status == 429, result.json
    assert result.error_codes == ["rate_limited"]
    body = result.json
    assert body["status"] == 429 and body["description"] and body["errors"][0]["message"]
    assert RFC3339_UTC.match(body["response_time"])
    assert body["request_id"] == result.headers["X-Request-Id"]
    retry_after = int(result.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    assert result.headers["RateLimit-Limit"] == "3"
    assert result.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(result.headers["RateLimit-Reset"]) <= WINDOW
    assert result.headers["RateLimit-Policy"] == f"3;w={WINDOW}"
    assert result.headers["RateLimit"] == f"limit=3, remaining=0, reset={retry_after}"


def test_fourth_write_to_one_object_with_one_key_is_429(invoke: Invoke, limited: None) -> None:
    a = ok_attach(invoke, "conversations", "r1", ["a"]).data[0]
    ok_attach(invoke, "conversations", "r1", ["b"])
    assert invoke("DELETE", f"/conversations/r1/tags/{a['id']}").status == 200
    before = object_tags(invoke, "conversations", "r1")
    for method, path, body in (("POST", "/conversations/r1/tags", {"tags": ["c"]}),
                               ("PUT", "/conversations/r1/tags", {"tags": ["c"]}),
                               ("DELETE", f"/conversations/r1/tags/{before[0][0]['id']}", None)):
        assert_rate_limited(invoke(method, path, body=body))
    assert object_tags(invoke, "conversations", "r1") == before
    assert [t["name"] for t in all_tags(invoke)] == ["a", "b"]  # "c" was not created
    assert_usage_exact(invoke, [("conversations", "r1")])
    assert invoke("GET", "/conversations/r1/tags").status == 200  # reads are not limited


def test_other_objects_and_other_keys_are_not_limited(invoke: Invoke, limited: None, tenant: Any) -> None:
    for name in ("a", "b", "c"):
        ok_attach(invoke, "conversations", "r1", [name])
    assert_rate_limited(attach(invoke, "conversations", "r1", ["d"]))
    ok_attach(invoke, "conversations", "r2", ["d"])  # same key, another object
    ok_attach(invoke, "customers", "r1", ["d"])  # same id, another kind: another object
    key_id, _ = create_api_key(tenant.id, "write", "second writer")
    second = Principal(tenant=tenant.id, role="write", key_id=key_id)
    for name in ("d", "e", "f"):
        ok_attach(invoke, "conversations", "r1", [name], principal=second)
    assert_rate_limited(attach(invoke, "conversations", "r1", ["g"], principal=second))
    assert listed_names(invoke, "conversations", "r1") == ["a", "b", "c", "d", "e", "f"]


def test_writes_that_change_nothing_or_are_refused_are_not_charged(invoke: Invoke, limited: None) -> None:
    narrow = new_tag(invoke, "narrow", applies_to={"conversation": False, "customer": True, "comment": True})
    first = ok_attach(invoke, "conversations", "r1", ["a"])  # 1
    for _ in range(3):
        assert ok_attach(invoke, "conversations", "r1", ["A"]).json["meta"]["version"] == 1  # already attached
        assert invoke("DELETE", f"/conversations/r1/tags/{MISSING_ID}").status == 200  # not attached
        assert attach(invoke, "conversations", "r1", ["a"], method="PUT").status == 200  # same set
        refused = attach(invoke, "conversations", "r1", ids=[narrow["id"]])
        assert refused.status == 400 and refused.error_codes == ["not_applicable"]
    ok_attach(invoke, "conversations", "r1", ["b"])  # 2
    assert invoke("DELETE", f"/conversations/r1/tags/{first.data[0]['id']}").status == 200  # 3
    assert_rate_limited(attach(invoke, "conversations", "r1", ["c"]))
    no_op = ok_attach(invoke, "conversations", "r1", ["b"])  # still fine once the budget is spent: nothing to write
    assert no_op.json["meta"]["version"] == 3


# --- tenancy -----------------------------------------------------------------------------------------------------

def test_another_tenants_object_data_is_invisible(invoke: Invoke, other_tenant: Any, stream: StreamPoller) -> None:
    mine = ok_attach(invoke, "conversations", "shared-id", ["Secret"]).data[0]
    stream.drain()
    as_other = {"tenant": other_tenant}

    assert object_tags(invoke, "conversations", "shared-id", **as_other) == ([], 0)
    assert invoke("GET", f"/tags/{mine['id']}/objects", **as_other).status == 404
    by_id = attach(invoke, "conversations", "shared-id", ids=[mine["id"]], tenant=other_tenant)
    assert by_id.status == 400 and by_id.error_codes == ["tag_not_found"]
    removed = invoke("DELETE", f"/conversations/shared-id/tags/{mine['id']}", **as_other)
    assert removed.status == 200 and removed.data == []

    theirs = ok_attach(invoke, "conversations", "shared-id", ["secret"], tenant=other_tenant).data[0]
    assert theirs["id"] != mine["id"] and theirs["account"] == {"id": other_tenant.id}
    stream.drain()
    assert [o["id"] for o in follow_reverse(invoke, mine["id"])] == ["shared-id"]
    assert object_tags(invoke, "conversations", "shared-id")[0] == [invoke("GET", f"/tags/{mine['id']}").data]
    assert invoke("GET", f"/tags/{mine['id']}").data["usage"]["conversation"] == 1
    assert_usage_exact(invoke, [("conversations", "shared-id")])
    assert_usage_exact(invoke, [("conversations", "shared-id")], tenant=other_tenant)


def test_read_key_cannot_write(invoke: Invoke) -> None:
    t = new_tag(invoke, "t")
    for method, path, body in (("POST", "/conversations/c1/tags", {"tags": ["x"]}),
                               ("PUT", "/conversations/c1/tags", {"tags": ["x"]}),
                               ("DELETE", f"/conversations/c1/tags/{t['id']}", None)):
        result = invoke(method, path, body=body, role="read")
        assert result.status == 403, result.json
    assert object_tags(invoke, "conversations", "c1", role="read") == ([], 0)
