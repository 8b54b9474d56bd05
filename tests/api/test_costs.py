"""What requests cost in DynamoDB: calls per request (botocore's before-call hook, `call_counter`) and items read
per page (`ScannedCount` of each Query, from an after-call hook), which must not grow with the tenant's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import Invoke, db

GOALS = 12  # matching tags per filter: more than one page of 10, so a next page exists
SMALL, LARGE = 30, 90  # tenant sizes compared (moto copies the whole table per transaction: keep LARGE modest)


def ok(result: Any, status: int = 200) -> Any:
    assert result.status == status, result.json
    return result


@pytest.fixture
def scanned(table: str) -> Iterator[list[int]]:
    """ScannedCount of every Query made through tags_core.db.client() from here on."""
    counts: list[int] = []

    def record(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        counts.append(int((parsed or {}).get("ScannedCount", 0)))

    events = db.client().meta.events
    events.register("after-call.dynamodb.Query", record)
    yield counts
    events.unregister("after-call.dynamodb.Query", record)


# --- calls per request ------------------------------------------------------------------------------------------

def test_get_one_tag_is_one_call(invoke: Invoke, call_counter: Any) -> None:
    tag = ok(invoke("POST", "/tags", body={"name": "One"}), 201).data
    call_counter.reset()
    ok(invoke("GET", f"/tags/{tag['id']}"))
    assert call_counter.calls == ["GetItem"]


def test_get_an_unknown_tag_is_at_most_one_call(invoke: Invoke, call_counter: Any) -> None:
    ok(invoke("POST", "/tags", body={"name": "One"}), 201)
    call_counter.reset()
    assert invoke("GET", "/tags/01ARZ3NDEKTSV4RRFFQ69G5FAV").status == 404
    assert call_counter.count <= 1
    call_counter.reset()
    assert invoke("GET", "/tags/not-an-id").status == 404
    assert call_counter.count <= 1


def test_create_is_one_call(invoke: Invoke, call_counter: Any) -> None:
    call_counter.reset()
    ok(invoke("POST", "/tags", body={"name": "Plain"}), 201)
    assert call_counter.calls == ["TransactWriteItems"]


def test_create_in_a_group_is_still_one_call(invoke: Invoke, call_counter: Any) -> None:
    group = ok(invoke("POST", "/tag-groups", body={"name": "Group"}), 201).data["id"]
    call_counter.reset()
    ok(invoke("POST", "/tags", body={"name": "Grouped", "group_id": group, "type": "goal", "color": "#123456"}), 201)
    assert call_counter.calls == ["TransactWriteItems"]
    assert ok(invoke("GET", f"/tag-groups/{group}")).data["tag_count"] == 1


def test_a_refused_create_costs_no_write(invoke: Invoke, call_counter: Any) -> None:
    call_counter.reset()
    assert invoke("POST", "/tags", body={"name": ""}).status == 400
    assert invoke("POST", "/tags", body="{x", headers={"Content-Type": "application/json"}).status == 400
    assert invoke("POST", "/tags", body={"name": "x"}, role="read").status == 403
    assert call_counter.count == 0


def test_change_and_delete_are_a_read_and_a_write(invoke: Invoke, call_counter: Any) -> None:
    tag = ok(invoke("POST", "/tags", body={"name": "Changing"}), 201).data
    call_counter.reset()
    ok(invoke("PATCH", f"/tags/{tag['id']}", body={"name": "Changed", "color": "#000000"}))
    assert call_counter.calls == ["GetItem", "TransactWriteItems"]
    call_counter.reset()
    ok(invoke("PATCH", f"/tags/{tag['id']}", body={"color": "#000000"}))  # no change: nothing written
    assert call_counter.calls == ["GetItem"]
    call_counter.reset()
    ok(invoke("DELETE", f"/tags/{tag['id']}"))
    assert call_counter.calls == ["GetItem", "TransactWriteItems"]


@pytest.fixture
def page_data(invoke: Invoke) -> dict[str, Any]:
    group = ok(invoke("POST", "/tag-groups", body={"name": "Listed"}), 201).data["id"]
    items = [{"name": f"goal {i:02d}", "type": "goal", "group_id": group} for i in range(GOALS)]
    ok(invoke("POST", "/tags/batch", body={"tags": items + [f"other {i:02d}" for i in range(8)]}))
    cursor = ok(invoke("GET", "/tags", query={"limit": 5})).json["meta"]["next_cursor"]
    return {"group": group, "cursor": cursor}


@pytest.mark.parametrize("case", ["page=1", "cursor", "q", "group_id", "type", "-created_at"])
def test_a_page_of_tags_is_at_most_two_calls(invoke: Invoke, call_counter: Any, page_data: dict[str, Any],
                                             case: str) -> None:
    query: dict[str, Any] = {
        "page=1": {"page": 1}, "cursor": {"cursor": page_data["cursor"]}, "q": {"q": "GOAL"},
        "group_id": {"group_id": page_data["group"]}, "type": {"type": "goal"}, "-created_at": {"sort": "-created_at"},
    }[case]
    call_counter.reset()
    page = ok(invoke("GET", "/tags", query={"limit": 5, **query}))
    assert len(page.data) == 5
    assert call_counter.count <= 2, call_counter.calls
    assert call_counter.of("Query") == 1, call_counter.calls


def test_batch_is_one_lookup_and_one_write_per_new_name(invoke: Invoke, call_counter: Any) -> None:
    ok(invoke("POST", "/tags", body={"name": "Old"}), 201)
    call_counter.reset()
    data = ok(invoke("POST", "/tags/batch", body={"tags": ["New 1", "old", "New 2", "new 1", ""]})).data
    assert len(data["inserted"]) == 2
    assert sorted(call_counter.calls) == ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]


# --- items read per page do not grow with the tenant --------------------------------------------------------------

PAGE_CASES = {
    "sort=name": {},
    "sort=-name": {"sort": "-name"},
    "sort=-created_at": {"sort": "-created_at"},
    "sort=created_at": {"sort": "created_at"},
    "type=goal": {"type": "goal"},
    "group_id": {"group_id": "<group>"},
    "group_id=null": {"group_id": "null"},
    "q": {"q": "goal"},
}


def _scanned_per_page(invoke: Invoke, scanned: list[int], group: str) -> dict[str, tuple[int, int]]:
    """Items read for the first page and for the next one (by cursor), limit 10, per case."""
    out = {}
    for name, case in PAGE_CASES.items():
        query = {k: (group if v == "<group>" else v) for k, v in case.items()}
        scanned.clear()
        first = ok(invoke("GET", "/tags", query={"limit": 10, **query}))
        first_read = sum(scanned)
        assert len(first.data) == 10, name
        scanned.clear()
        ok(invoke("GET", "/tags", query={"limit": 10, "cursor": first.json["meta"]["next_cursor"], **query}))
        out[name] = (first_read, sum(scanned))
    return out


def test_items_read_per_page_do_not_grow_with_the_tag_count(invoke: Invoke, scanned: list[int]) -> None:
    group = ok(invoke("POST", "/tag-groups", body={"name": "Goals"}), 201).data["id"]
    matching = [{"name": f"goal {i:02d}", "type": "goal", "group_id": group} for i in range(GOALS)]
    # Fillers sort around the matching tags by name and are created after them, so an unindexed read would meet them
    # first in creation order and between them in name order.
    ok(invoke("POST", "/tags/batch", body={"tags": matching}))
    fillers = [f"{prefix} filler {i:03d}" for i, prefix in zip(range(LARGE - GOALS), "afhz" * 40, strict=False)]
    ok(invoke("POST", "/tags/batch", body={"tags": fillers[:SMALL - GOALS]}))
    assert ok(invoke("GET", "/tags")).json["meta"]["total"] == SMALL
    small = _scanned_per_page(invoke, scanned, group)

    for start in range(SMALL - GOALS, len(fillers), 100):
        ok(invoke("POST", "/tags/batch", body={"tags": fillers[start:start + 100]}))
    assert ok(invoke("GET", "/tags")).json["meta"]["total"] == LARGE
    large = _scanned_per_page(invoke, scanned, group)

    assert {name: first for name, (first, _) in large.items()} == {name: first for name, (first, _) in small.items()}
    for name, (first, following) in large.items():
        assert first <= 11 and following <= 11, (name, first, following)
