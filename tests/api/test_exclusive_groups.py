"""Groups' `max_per_object` (issue 15): a group's limit on how many of its tags one object carries, 409
`group_limit` beyond it, `replace_in_group` swapping in the same write, and the write's own guard against a limit
or a membership that changed between the read and the write. The 32-thread race is tests/http/test_exclusive_groups.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tags_core.store.table import TagSetChanged
from tags_core.store.tag_sets import AttachRefused, GroupGuard, Stamp, TagSetStore
from tests.helpers import Invoke, TenantKeys, assert_error, attach, get_group, get_tag, new_group, new_tag, object_tags


def ids_on(invoke: Invoke, kind: str, object_id: str) -> set[str]:
    return {t["id"] for t in object_tags(invoke, kind, object_id)[0]}


@pytest.fixture
def priority(invoke: Invoke) -> dict[str, Any]:
    """An exclusive group (max 1) with three tags, and a free-standing tag."""
    group = new_group(invoke, "Priority", max_per_object=1)
    tags = {name: new_tag(invoke, name, group_id=group["id"]) for name in ("P1", "P2", "P3")}
    return {"group": group, **tags, "free": new_tag(invoke, "Billing")}


# --- the group's field ----------------------------------------------------------------------------------------

def test_max_per_object_is_shown_set_and_cleared(invoke: Invoke) -> None:
    assert new_group(invoke, "Open")["max_per_object"] is None
    group = new_group(invoke, "Size", max_per_object=3)
    assert group["max_per_object"] == 3 and get_group(invoke, group["id"])["max_per_object"] == 3
    patched = invoke("PATCH", f"/tag-groups/{group['id']}", body={"max_per_object": 1})
    assert patched.status == 200 and patched.data["max_per_object"] == 1 and patched.data["version"] == 2
    cleared = invoke("PATCH", f"/tag-groups/{group['id']}", body={"max_per_object": None})
    assert cleared.status == 200 and cleared.data["max_per_object"] is None


@pytest.mark.parametrize("value", [0, -1, 101, "1", 1.5, True])
def test_a_bad_max_per_object_is_400_and_nothing_is_written(invoke: Invoke, value: Any) -> None:
    assert invoke("POST", "/tag-groups", body={"name": "Bad", "max_per_object": value}).status == 400
    group = new_group(invoke, "Good", max_per_object=2)
    assert invoke("PATCH", f"/tag-groups/{group['id']}", body={"max_per_object": value}).status == 400
    assert get_group(invoke, group["id"])["max_per_object"] == 2


# --- attaching ----------------------------------------------------------------------------------------------

def test_a_second_tag_of_an_exclusive_group_is_409_and_nothing_moves(invoke: Invoke, priority: dict) -> None:
    assert attach(invoke, "conversations", "c1", ids=[priority["P1"]["id"]]).status == 200
    refused = attach(invoke, "conversations", "c1", ["P2"])
    entry = assert_error(refused, 409, "group_limit", "tags")
    assert entry["group_id"] == priority["group"]["id"] and entry["max_per_object"] == 1
    assert ids_on(invoke, "conversations", "c1") == {priority["P1"]["id"]}
    assert object_tags(invoke, "conversations", "c1")[1] == 1
    assert get_tag(invoke, priority["P2"]["id"])["usage"]["conversation"] == 0
    # other objects, and tags of other groups or none, are not limited
    assert attach(invoke, "conversations", "c2", ids=[priority["P2"]["id"]]).status == 200
    assert attach(invoke, "conversations", "c1", ["Billing", "New one"]).status == 200


def test_asking_for_two_tags_of_an_exclusive_group_at_once_is_409(invoke: Invoke, priority: dict) -> None:
    both = [priority["P1"]["id"], priority["P2"]["id"]]
    assert_error(attach(invoke, "customers", "u1", ids=both), 409, "group_limit")
    assert_error(attach(invoke, "customers", "u1", ids=both, replace_in_group=True), 409, "group_limit")
    assert_error(attach(invoke, "customers", "u1", ids=both, method="PUT"), 409, "group_limit")
    assert ids_on(invoke, "customers", "u1") == set()


def test_replace_in_group_swaps_in_one_write(invoke: Invoke, priority: dict) -> None:
    p1, p2, free = priority["P1"]["id"], priority["P2"]["id"], priority["free"]["id"]
    assert attach(invoke, "conversations", "c1", ids=[p1, free]).status == 200
    swapped = attach(invoke, "conversations", "c1", ["p2"], replace_in_group=True)
    assert swapped.status == 200, swapped.json
    assert {t["id"] for t in swapped.data} == {p2, free} and swapped.json["meta"]["version"] == 2
    by_id = {t["id"]: t for t in swapped.data}
    assert by_id[p2]["usage"]["conversation"] == 1  # the answer shows the usage the write moved
    assert ids_on(invoke, "conversations", "c1") == {p2, free}
    assert get_tag(invoke, p1)["usage"]["conversation"] == 0
    assert get_tag(invoke, p2)["usage"]["conversation"] == 1
    assert get_tag(invoke, free)["usage"]["conversation"] == 1


def test_put_with_a_tag_of_the_group_replaces_it_without_the_flag(invoke: Invoke, priority: dict) -> None:
    """A PUT names the whole set: the group's old tag goes because it is not named, not because of the limit."""
    p1, p3 = priority["P1"]["id"], priority["P3"]["id"]
    assert attach(invoke, "comments", "m1", ids=[p1]).status == 200
    assert attach(invoke, "comments", "m1", ids=[p3], method="PUT").status == 200
    assert ids_on(invoke, "comments", "m1") == {p3}
    assert get_tag(invoke, p1)["usage"]["comment"] == 0


def test_a_limit_of_two_and_replace_in_group_detaches_every_other_tag_of_it(invoke: Invoke) -> None:
    group = new_group(invoke, "Teams", max_per_object=2)
    a, b, c = (new_tag(invoke, n, group_id=group["id"])["id"] for n in ("Red", "Blue", "Green"))
    assert attach(invoke, "conversations", "c1", ids=[a, b]).status == 200
    assert_error(attach(invoke, "conversations", "c1", ids=[c]), 409, "group_limit")
    assert attach(invoke, "conversations", "c1", ids=[a, c], replace_in_group=True).status == 200
    assert ids_on(invoke, "conversations", "c1") == {a, c}
    assert [get_tag(invoke, i)["usage"]["conversation"] for i in (a, b, c)] == [1, 0, 1]


def test_lowering_the_limit_keeps_existing_sets_and_checks_new_attaches(invoke: Invoke) -> None:
    group = new_group(invoke, "Area")
    a, b, c = (new_tag(invoke, n, group_id=group["id"])["id"] for n in ("North", "South", "East"))
    assert attach(invoke, "customers", "u1", ids=[a, b]).status == 200
    assert invoke("PATCH", f"/tag-groups/{group['id']}", body={"max_per_object": 1}).status == 200
    assert ids_on(invoke, "customers", "u1") == {a, b}  # left as they are
    assert attach(invoke, "customers", "u1", ids=[a]).status == 200  # already there: no change, allowed
    assert_error(attach(invoke, "customers", "u1", ids=[c]), 409, "group_limit")
    assert attach(invoke, "customers", "u1", ids=[c], replace_in_group=True).status == 200
    assert ids_on(invoke, "customers", "u1") == {c}


def test_moving_a_tag_into_an_exclusive_group_counts_it_from_then_on(invoke: Invoke, priority: dict) -> None:
    p1, free = priority["P1"]["id"], priority["free"]["id"]
    assert attach(invoke, "conversations", "c1", ids=[p1]).status == 200
    assert invoke("PATCH", f"/tags/{free}", body={"group_id": priority["group"]["id"]}).status == 200
    assert_error(attach(invoke, "conversations", "c1", ids=[free]), 409, "group_limit")


# --- the write's own guard (what holds when the group or the tag changes between read and write) ------------------

def _write(tenant: TenantKeys, tag_id: str, guard: GroupGuard) -> int:
    return TagSetStore().write_tag_set(tenant.id, "conversation", "c9", old_version=0, tags={tag_id: "t"},
                                       added=[tag_id], removed=[], created=[], stamp=Stamp("k"), rate_limit=None,
                                       guard=guard)


def test_a_limit_lowered_after_the_read_cancels_the_write(invoke: Invoke, tenant: TenantKeys) -> None:
    group = new_group(invoke, "Tiers", max_per_object=2)
    tag = new_tag(invoke, "Gold", group_id=group["id"])
    assert invoke("PATCH", f"/tag-groups/{group['id']}", body={"max_per_object": 1}).status == 200
    with pytest.raises(TagSetChanged):  # the attach counted 2 of the group, read when 2 were allowed
        _write(tenant, tag["id"], GroupGuard({tag["id"]: group["id"]}, {group["id"]: 2}))
    assert get_tag(invoke, tag["id"])["usage"]["conversation"] == 0
    assert _write(tenant, tag["id"], GroupGuard({tag["id"]: group["id"]}, {group["id"]: 1})) == 1


def test_a_tag_moved_to_another_group_after_the_read_cancels_the_write(invoke: Invoke, tenant: TenantKeys) -> None:
    first, second = new_group(invoke, "First"), new_group(invoke, "Second")
    tag = new_tag(invoke, "Mover", group_id=first["id"])
    assert invoke("PATCH", f"/tags/{tag['id']}", body={"group_id": second["id"]}).status == 200
    with pytest.raises(AttachRefused) as refused:
        _write(tenant, tag["id"], GroupGuard({tag["id"]: first["id"]}, {first["id"]: 1}))
    assert refused.value.tag and refused.value.tag["group_id"] == second["id"]
    assert get_tag(invoke, tag["id"])["usage"]["conversation"] == 0
