"""Tag groups (in process, through the local gateway): create, list, get with tag_count, patch, delete/ungroup,
and tags' `group_id` pointing at groups."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tags_core.errors import PreconditionFailed
from tags_core.store.groups import GroupStore
from tests.helpers import (
    MISSING_ID,
    RFC3339_UTC,
    Invoke,
    assert_error,
    follow,
    get_group,
    get_tag,
    groups,
    new_group,
    new_tag,
)


def tag_ids_in_group(invoke: Invoke, group_id: str) -> set[str]:
    result = invoke("GET", "/tags", query={"group_id": group_id, "limit": 100})
    assert result.status == 200, result.json
    assert result.json["meta"]["next_cursor"] is None
    return {t["id"] for t in result.data}


def assert_count(invoke: Invoke, group_id: str, expected: int) -> None:
    """The group's tag_count, and the tags actually listed in it, are both `expected`."""
    assert get_group(invoke, group_id)["tag_count"] == expected
    assert len(tag_ids_in_group(invoke, group_id)) == expected


# --- create ------------------------------------------------------------------------------------------------------

def test_create_returns_201_with_the_group(invoke: Invoke, tenant: Any) -> None:
    result = invoke("POST", "/tag-groups", body={"name": "  Sales   Team ", "description": "Leads and deals"})
    assert result.status == 201, result.json
    data = result.data
    assert data["object"] == "tag_group"
    assert data["name"] == "Sales Team"
    assert data["name_slug"] == "sales-team"
    assert data["description"] == "Leads and deals"
    assert data["tag_count"] == 0
    assert data["account"] == {"id": tenant.id}
    assert data["version"] == 1
    assert RFC3339_UTC.match(data["created_at"]) and RFC3339_UTC.match(data["updated_at"])
    assert len(data["id"]) == 26
    assert get_group(invoke, data["id"]) == data


@pytest.mark.parametrize("taken", ["sales team", "SALES TEAM", " Sales  team "])
def test_names_are_unique_case_insensitively(invoke: Invoke, taken: str) -> None:
    first = new_group(invoke, "Sales Team")
    result = invoke("POST", "/tag-groups", body={"name": taken})
    assert result.status == 409, result.json
    assert result.error_codes == ["group_exists"]
    assert result.json["errors"][0].get("existing_id") == first["id"]
    assert follow(invoke, "/tag-groups") == [get_group(invoke, first["id"])]


def test_group_and_tag_names_do_not_collide_and_tenants_are_separate(invoke: Invoke, other_tenant: Any) -> None:
    new_group(invoke, "VIP")
    new_tag(invoke, "VIP")  # tags and groups are separate name spaces
    result = invoke("POST", "/tag-groups", body={"name": "vip"}, tenant=other_tenant)
    assert result.status == 201, result.json


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 256}, {"name": 5},
                                  {"name": "ok", "color": "#ffffff"}, {"name": "ok", "description": "d" * 501}])
def test_create_rejects_invalid_bodies(invoke: Invoke, body: dict[str, Any]) -> None:
    result = invoke("POST", "/tag-groups", body=body)
    assert result.status == 400, result.json
    assert result.error_codes
    assert follow(invoke, "/tag-groups") == []


# --- list --------------------------------------------------------------------------------------------------------

@pytest.fixture
def five_groups(invoke: Invoke) -> list[dict[str, Any]]:
    """Five groups, created in this order a few ms apart (ids, and so created_at order, follow it)."""
    made = []
    for name in ("delta", "Bravo", "echo", "alpha", "Charlie"):
        made.append(new_group(invoke, name))
        time.sleep(0.003)
    return made


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


def test_list_sorts_by_name_case_insensitively_by_default(invoke: Invoke, five_groups: Any) -> None:
    result = invoke("GET", "/tag-groups")
    assert result.status == 200
    assert names(result.data) == ["alpha", "Bravo", "Charlie", "delta", "echo"]
    assert all(g["tag_count"] == 0 for g in result.data)
    meta = result.json["meta"]
    assert meta["total"] == 5 and meta["last_page"] == 1 and meta["current_page"] == 1
    assert meta["from"] == 1 and meta["to"] == 5 and meta["per_page"] == 20 and meta["next_cursor"] is None
    assert meta["path"].endswith("/tag-groups")  # with the stage or base path the client called
    assert result.json["links"]["next"] is None and result.json["links"]["prev"] is None


@pytest.mark.parametrize(("sort", "order"), [
    ("name", ["alpha", "Bravo", "Charlie", "delta", "echo"]),
    ("-name", ["echo", "delta", "Charlie", "Bravo", "alpha"]),
    ("created_at", ["delta", "Bravo", "echo", "alpha", "Charlie"]),
    ("-created_at", ["Charlie", "alpha", "echo", "Bravo", "delta"]),
])
def test_list_sorts(invoke: Invoke, five_groups: Any, sort: str, order: list[str]) -> None:
    assert names(invoke("GET", "/tag-groups", query={"sort": sort}).data) == order
    assert names(follow(invoke, "/tag-groups", sort=sort, limit=2)) == order


def test_list_pages_by_number_with_meta_and_links(invoke: Invoke, five_groups: Any) -> None:
    first = invoke("GET", "/tag-groups", query={"limit": 2})
    assert names(first.data) == ["alpha", "Bravo"]
    meta, links = first.json["meta"], first.json["links"]
    assert (meta["current_page"], meta["from"], meta["to"], meta["per_page"]) == (1, 1, 2, 2)
    assert (meta["total"], meta["last_page"]) == (5, 3)
    assert meta["next_cursor"]
    assert links["prev"] is None
    assert "page=2" in links["next"] and "page=3" in links["last"] and "page=1" in links["first"]

    second = invoke("GET", "/tag-groups?" + links["next"].partition("?")[2])
    assert second.status == 200, second.json
    assert names(second.data) == ["Charlie", "delta"]
    assert (second.json["meta"]["from"], second.json["meta"]["to"]) == (3, 4)

    last = invoke("GET", "/tag-groups", query={"limit": 2, "page": 3})
    assert names(last.data) == ["echo"]
    meta, links = last.json["meta"], last.json["links"]
    assert (meta["current_page"], meta["from"], meta["to"]) == (3, 5, 5)
    assert meta["next_cursor"] is None and links["next"] is None
    assert "page=2" in links["prev"]

    beyond = invoke("GET", "/tag-groups", query={"limit": 2, "page": 4})
    assert beyond.status == 200 and beyond.data == []


def test_list_cursor_visits_every_group_once(invoke: Invoke, five_groups: Any) -> None:
    seen = follow(invoke, "/tag-groups", limit=2)
    assert sorted(g["id"] for g in seen) == sorted(g["id"] for g in five_groups)
    assert len(seen) == 5
    following = invoke("GET", "/tag-groups", query={"limit": 2})
    cursor_page = invoke("GET", "/tag-groups", query={"limit": 2, "cursor": following.json["meta"]["next_cursor"]})
    assert cursor_page.json["meta"]["current_page"] is None
    assert cursor_page.json["links"]["next"] and "cursor=" in cursor_page.json["links"]["next"]


@pytest.mark.parametrize("q", ["b", "BR", "bravo"])
def test_list_q_is_a_case_insensitive_name_prefix(invoke: Invoke, five_groups: Any, q: str) -> None:
    result = invoke("GET", "/tag-groups", query={"q": q})
    assert result.status == 200, result.json
    assert names(result.data) == ["Bravo"]
    assert result.json["meta"]["total"] is None and result.json["meta"]["last_page"] is None
    by_creation = invoke("GET", "/tag-groups", query={"q": q, "sort": "-created_at"})
    assert names(by_creation.data) == ["Bravo"]


def test_list_q_with_no_match_is_empty(invoke: Invoke, five_groups: Any) -> None:
    result = invoke("GET", "/tag-groups", query={"q": "zz"})
    assert result.status == 200 and result.data == []


def test_list_rejects_forged_and_foreign_cursors(invoke: Invoke, five_groups: Any, other_tenant: Any) -> None:
    cursor = invoke("GET", "/tag-groups", query={"limit": 2}).json["meta"]["next_cursor"]
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for query in ({"cursor": forged}, {"cursor": "garbage"}, {"cursor": cursor, "sort": "-name"},
                  {"cursor": cursor, "q": "a"}):
        result = invoke("GET", "/tag-groups", query={"limit": 2, **query})
        assert result.status == 400, (query, result.json)
        assert result.error_codes == ["invalid_cursor"]
    foreign = invoke("GET", "/tag-groups", query={"limit": 2, "cursor": cursor}, tenant=other_tenant)
    assert foreign.status == 400 and foreign.error_codes == ["invalid_cursor"]
    new_tag(invoke, "a1")
    new_tag(invoke, "a2")
    tags_cursor = invoke("GET", "/tags", query={"limit": 1}).json["meta"]["next_cursor"]
    result = invoke("GET", "/tag-groups", query={"limit": 1, "cursor": tags_cursor})
    assert result.status == 400 and result.error_codes == ["invalid_cursor"]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"page": 0}, {"sort": "tag_count"},
                                   {"page": 1, "cursor": "x"}, {"colour": "red"}])
def test_list_rejects_bad_parameters(invoke: Invoke, query: dict[str, Any]) -> None:
    result = invoke("GET", "/tag-groups", query=query)
    assert result.status == 400, result.json


def test_list_shows_only_the_tenants_groups(invoke: Invoke, five_groups: Any, other_tenant: Any) -> None:
    result = invoke("GET", "/tag-groups", tenant=other_tenant)
    assert result.status == 200 and result.data == [] and result.json["meta"]["total"] == 0


# --- get and tag_count -------------------------------------------------------------------------------------------

def test_get_carries_an_etag(invoke: Invoke) -> None:
    made = new_group(invoke, "Ops")
    result = invoke("GET", f"/tag-groups/{made['id']}")
    assert result.status == 200
    assert result.headers["ETag"] == '"1"'


def test_create_answers_the_etag_a_patch_can_send_back(invoke: Invoke) -> None:
    """Every single-resource write answer carries ETag, creation included (no read needed before the first PATCH)."""
    for path, body in (("/tag-groups", {"name": "Fresh"}), ("/tags", {"name": "Fresh"})):
        created = invoke("POST", path, body=body)
        assert created.status == 201 and created.headers["ETag"] == '"1"', created.json
        patched = invoke("PATCH", f"{path}/{created.data['id']}", body={"description": "d"},
                         headers={"If-Match": created.headers["ETag"]})
        assert patched.status == 200 and patched.headers["ETag"] == '"2"', patched.json


def test_patch_honours_if_match_and_answers_the_new_etag(invoke: Invoke) -> None:
    made = new_group(invoke, "Ops")
    stale = invoke("PATCH", f"/tag-groups/{made['id']}", body={"description": "lost"}, headers={"If-Match": '"99"'})
    assert_error(stale, 412, "precondition_failed", "If-Match")
    assert get_group(invoke, made["id"])["description"] == made["description"]

    changed = invoke("PATCH", f"/tag-groups/{made['id']}", body={"description": "kept"}, headers={"If-Match": '"1"'})
    assert changed.status == 200 and changed.headers["ETag"] == '"2"' and changed.data["version"] == 2
    again = invoke("PATCH", f"/tag-groups/{made['id']}", body={"name": "Ops 2"}, headers={"If-Match": '"1"'})
    assert_error(again, 412, "precondition_failed", "If-Match")
    assert get_group(invoke, made["id"])["name"] == "Ops"


def test_delete_honours_if_match(invoke: Invoke) -> None:
    made = new_group(invoke, "Ops")
    invoke("PATCH", f"/tag-groups/{made['id']}", body={"description": "v2"})
    stale = invoke("DELETE", f"/tag-groups/{made['id']}", headers={"If-Match": '"1"'})
    assert_error(stale, 412, "precondition_failed", "If-Match")
    assert get_group(invoke, made["id"])["version"] == 2
    deleted = invoke("DELETE", f"/tag-groups/{made['id']}", headers={"If-Match": '"2"'})
    assert deleted.status == 200 and deleted.data["deleted"] is True


def test_a_delete_that_read_the_group_before_a_rename_is_refused_not_a_500(invoke: Invoke, tenant: Any) -> None:
    made = new_group(invoke, "Before")
    read_before = dict(made)
    assert invoke("PATCH", f"/tag-groups/{made['id']}", body={"name": "After"}).status == 200
    with pytest.raises(PreconditionFailed):
        GroupStore().delete_group(tenant.id, read_before)  # what a delete racing the rename sends
    assert get_group(invoke, made["id"])["name"] == "After"
    assert invoke("DELETE", f"/tag-groups/{made['id']}").status == 200  # read again: deleted


def test_tag_count_follows_tags_joining_leaving_and_being_deleted(invoke: Invoke) -> None:
    sales = new_group(invoke, "Sales")
    support = new_group(invoke, "Support")
    a = new_tag(invoke, "A", group_id=sales["id"])
    assert a["group_id"] == sales["id"]
    assert_count(invoke, sales["id"], 1)
    b = new_tag(invoke, "B", group_id=sales["id"])
    free = new_tag(invoke, "Free")
    assert_count(invoke, sales["id"], 2)
    assert tag_ids_in_group(invoke, sales["id"]) == {a["id"], b["id"]}

    # joins via PATCH
    patched = invoke("PATCH", f"/tags/{free['id']}", body={"group_id": support["id"]})
    assert patched.status == 200 and patched.data["group_id"] == support["id"]
    assert_count(invoke, support["id"], 1)

    # re-grouped from one group to another
    moved = invoke("PATCH", f"/tags/{a['id']}", body={"group_id": support["id"]})
    assert moved.status == 200, moved.json
    assert_count(invoke, sales["id"], 1)
    assert_count(invoke, support["id"], 2)
    assert tag_ids_in_group(invoke, support["id"]) == {a["id"], free["id"]}

    # leaves via PATCH null and via 0
    assert invoke("PATCH", f"/tags/{a['id']}", body={"group_id": None}).status == 200
    assert invoke("PATCH", f"/tags/{free['id']}", body={"group_id": 0}).status == 200
    assert get_tag(invoke, free["id"])["group_id"] is None
    assert_count(invoke, support["id"], 0)

    # leaves via PUT without group_id (absent fields reset)
    assert invoke("PATCH", f"/tags/{a['id']}", body={"group_id": support["id"]}).status == 200
    assert_count(invoke, support["id"], 1)
    put = invoke("PUT", f"/tags/{a['id']}", body={"name": "A"})
    assert put.status == 200 and put.data["group_id"] is None
    assert_count(invoke, support["id"], 0)

    # a patch that does not touch the group leaves the count alone
    assert invoke("PATCH", f"/tags/{b['id']}", body={"color": "#00ff00"}).status == 200
    assert_count(invoke, sales["id"], 1)

    # deleted
    assert invoke("DELETE", f"/tags/{b['id']}").status == 200
    assert_count(invoke, sales["id"], 0)


def test_tag_count_counts_batch_created_tags(invoke: Invoke) -> None:
    g = new_group(invoke, "Batch")
    result = invoke("POST", "/tags/batch", body={"tags": [{"name": "x1", "group_id": g["id"]},
                                                          {"name": "x2", "group_id": g["id"]}, "x3"]})
    assert result.status == 200, result.json
    assert len(result.data["inserted"]) == 3
    assert_count(invoke, g["id"], 2)


def test_get_unknown_and_malformed_ids_are_404(invoke: Invoke) -> None:
    for group_id in (MISSING_ID, "nope"):
        result = invoke("GET", f"/tag-groups/{group_id}")
        assert result.status == 404, result.json
        assert result.error_codes == ["not_found"]


# --- tags' group_id ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("group_id", [MISSING_ID, "not-a-group"])
def test_tag_with_unknown_group_is_400_group_not_found(invoke: Invoke, group_id: str) -> None:
    created = invoke("POST", "/tags", body={"name": "Orphan", "group_id": group_id})
    assert created.status == 400, created.json
    assert created.error_codes == ["group_not_found"]
    assert invoke("GET", "/tags").data == []

    t = new_tag(invoke, "Free")
    for method in ("PATCH", "PUT"):
        result = invoke(method, f"/tags/{t['id']}", body={"name": "Free", "group_id": group_id})
        assert result.status == 400, result.json
        assert result.error_codes == ["group_not_found"]
    assert get_tag(invoke, t["id"]) == t


def test_tag_with_another_tenants_group_is_400(invoke: Invoke, other_tenant: Any) -> None:
    theirs = new_group(lambda *a, **k: invoke(*a, tenant=other_tenant, **k), "Theirs")
    result = invoke("POST", "/tags", body={"name": "Mine", "group_id": theirs["id"]})
    assert result.status == 400 and result.error_codes == ["group_not_found"]
    assert invoke("GET", f"/tag-groups/{theirs['id']}", tenant=other_tenant).data["tag_count"] == 0


def test_tag_in_a_group_deleted_meanwhile_is_refused(invoke: Invoke) -> None:
    g = new_group(invoke, "Gone")
    assert invoke("DELETE", f"/tag-groups/{g['id']}").status == 200
    result = invoke("POST", "/tags", body={"name": "Late", "group_id": g["id"]})
    assert result.status == 400 and result.error_codes == ["group_not_found"]


def test_list_tags_by_group(invoke: Invoke) -> None:
    g1 = new_group(invoke, "G1")
    g2 = new_group(invoke, "G2")
    in_g1 = [new_tag(invoke, n, group_id=g1["id"]) for n in ("b-one", "A-two", "c-three")]
    new_tag(invoke, "other", group_id=g2["id"])
    free = new_tag(invoke, "free")

    result = invoke("GET", "/tags", query={"group_id": g1["id"]})
    assert result.status == 200, result.json
    assert names(result.data) == ["A-two", "b-one", "c-three"]
    assert {t["id"] for t in result.data} == {t["id"] for t in in_g1}
    assert result.json["meta"]["total"] is None

    by_creation = invoke("GET", "/tags", query={"group_id": g1["id"], "sort": "created_at"})
    assert [t["id"] for t in by_creation.data] == [t["id"] for t in in_g1]
    assert [t["id"] for t in invoke("GET", "/tags", query={"group_id": "null"}).data] == [free["id"]]
    assert invoke("GET", "/tags", query={"group_id": MISSING_ID}).data == []


# --- patch -------------------------------------------------------------------------------------------------------

def test_patch_renames_and_describes(invoke: Invoke) -> None:
    g = new_group(invoke, "Old name", description="first")
    time.sleep(0.002)
    result = invoke("PATCH", f"/tag-groups/{g['id']}", body={"name": "New  Name"})
    assert result.status == 200, result.json
    assert result.data["name"] == "New Name" and result.data["name_slug"] == "new-name"
    assert result.data["description"] == "first"
    assert result.data["version"] == 2
    assert result.data["updated_at"] > g["updated_at"]
    assert result.data["created_at"] == g["created_at"]
    stored = get_group(invoke, g["id"])
    assert {k: v for k, v in stored.items() if k != "name_slug"} == {
        k: v for k, v in result.data.items() if k != "name_slug"}  # name_slug: see the test below

    described = invoke("PATCH", f"/tag-groups/{g['id']}", body={"description": "second"})
    assert described.status == 200
    assert (described.data["name"], described.data["description"], described.data["version"]) == (
        "New Name", "second", 3)
    cleared = invoke("PATCH", f"/tag-groups/{g['id']}", body={"description": None})
    assert cleared.status == 200 and cleared.data["description"] is None and cleared.data["version"] == 4

    # the old name is free again, the new one is taken
    assert invoke("POST", "/tag-groups", body={"name": "old name"}).status == 201
    taken = invoke("POST", "/tag-groups", body={"name": "new name"})
    assert taken.status == 409 and taken.error_codes == ["group_exists"]


def test_patch_rename_stores_the_new_slug(invoke: Invoke) -> None:
    g = new_group(invoke, "Old name")
    renamed = invoke("PATCH", f"/tag-groups/{g['id']}", body={"name": "New Name"})
    assert renamed.status == 200 and renamed.data["name_slug"] == "new-name"
    assert get_group(invoke, g["id"])["name_slug"] == "new-name"
    assert invoke("GET", "/tag-groups").data[0]["name_slug"] == "new-name"


def test_patch_without_change_keeps_the_version(invoke: Invoke) -> None:
    g = new_group(invoke, "Same", description="d")
    result = invoke("PATCH", f"/tag-groups/{g['id']}", body={"name": "Same", "description": "d"})
    assert result.status == 200 and result.data == g


def test_patch_case_only_rename_is_allowed(invoke: Invoke) -> None:
    g = new_group(invoke, "vip")
    result = invoke("PATCH", f"/tag-groups/{g['id']}", body={"name": "VIP"})
    assert result.status == 200, result.json
    assert result.data["name"] == "VIP" and result.data["version"] == 2
    again = invoke("POST", "/tag-groups", body={"name": "Vip"})
    assert again.status == 409 and again.json["errors"][0].get("existing_id") == g["id"]


def test_patch_onto_a_taken_name_is_409(invoke: Invoke) -> None:
    first = new_group(invoke, "First")
    second = new_group(invoke, "Second")
    result = invoke("PATCH", f"/tag-groups/{second['id']}", body={"name": " FIRST "})
    assert result.status == 409, result.json
    assert result.error_codes == ["group_exists"]
    assert get_group(invoke, second["id"]) == second
    assert get_group(invoke, first["id"]) == first


def test_patch_unknown_or_foreign_group_is_404(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tag-groups", body={"name": "Theirs"}, tenant=other_tenant).data
    for group_id in (MISSING_ID, theirs["id"], "nope"):
        result = invoke("PATCH", f"/tag-groups/{group_id}", body={"name": "Mine now"})
        assert result.status == 404, result.json
        assert result.error_codes == ["not_found"]
    assert invoke("GET", f"/tag-groups/{theirs['id']}", tenant=other_tenant).data == theirs


@pytest.mark.parametrize("body", [{"name": None}, {"name": ""}, {"tag_count": 3}, {"description": "d" * 501}])
def test_patch_rejects_invalid_bodies(invoke: Invoke, body: dict[str, Any]) -> None:
    g = new_group(invoke, "Valid")
    result = invoke("PATCH", f"/tag-groups/{g['id']}", body=body)
    assert result.status == 400, result.json
    assert get_group(invoke, g["id"]) == g


# --- delete ------------------------------------------------------------------------------------------------------

def test_delete_empty_group(invoke: Invoke) -> None:
    g = new_group(invoke, "Empty")
    result = invoke("DELETE", f"/tag-groups/{g['id']}")
    assert result.status == 200, result.json
    assert result.data == {"id": g["id"], "object": "tag_group", "deleted": True}
    assert invoke("GET", f"/tag-groups/{g['id']}").status == 404
    assert invoke("DELETE", f"/tag-groups/{g['id']}").status == 404
    listed = invoke("GET", "/tag-groups")
    assert listed.data == [] and listed.json["meta"]["total"] == 0
    assert invoke("POST", "/tag-groups", body={"name": "EMPTY"}).status == 201  # the name is free again


def test_delete_non_empty_group_is_409_and_keeps_everything(invoke: Invoke) -> None:
    g = new_group(invoke, "Busy")
    t = new_tag(invoke, "member", group_id=g["id"])
    for query in (None, {"ungroup": "false"}):
        result = invoke("DELETE", f"/tag-groups/{g['id']}", query=query)
        assert result.status == 409, result.json
        assert result.error_codes == ["group_not_empty"]
    assert get_group(invoke, g["id"]) == {**g, "tag_count": 1}
    assert get_tag(invoke, t["id"]) == t


def test_delete_after_the_last_tag_left(invoke: Invoke) -> None:
    g = new_group(invoke, "Was busy")
    t = new_tag(invoke, "member", group_id=g["id"])
    assert invoke("DELETE", f"/tag-groups/{g['id']}").status == 409
    assert invoke("DELETE", f"/tags/{t['id']}").status == 200
    assert invoke("DELETE", f"/tag-groups/{g['id']}").status == 200


def test_delete_with_ungroup_frees_the_tags(invoke: Invoke) -> None:
    g = new_group(invoke, "Dissolve")
    other = new_group(invoke, "Stays")
    members = [new_tag(invoke, f"m{i}", group_id=g["id"]) for i in range(3)]
    bystander = new_tag(invoke, "bystander", group_id=other["id"])

    result = invoke("DELETE", f"/tag-groups/{g['id']}", query={"ungroup": "true"})
    assert result.status == 200, result.json
    assert result.data == {"id": g["id"], "object": "tag_group", "deleted": True}
    assert invoke("GET", f"/tag-groups/{g['id']}").status == 404
    for before in members:
        after = get_tag(invoke, before["id"])
        assert after["group_id"] is None
        assert after["version"] == before["version"] + 1
        assert {k: v for k, v in after.items() if k not in ("group_id", "version", "updated_at")} == {
            k: v for k, v in before.items() if k not in ("group_id", "version", "updated_at")}
    assert tag_ids_in_group(invoke, "null") == {t["id"] for t in members}
    assert tag_ids_in_group(invoke, g["id"]) == set()
    assert get_tag(invoke, bystander["id"]) == bystander
    assert_count(invoke, other["id"], 1)
    assert [x["id"] for x in invoke("GET", "/tag-groups").data] == [other["id"]]


def test_delete_with_ungroup_on_an_empty_group(invoke: Invoke) -> None:
    g = new_group(invoke, "Nothing inside")
    assert invoke("DELETE", f"/tag-groups/{g['id']}", query={"ungroup": "true"}).status == 200
    assert invoke("GET", f"/tag-groups/{g['id']}").status == 404


def test_delete_with_ungroup_beyond_one_transaction(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """More tags than one ungroup transaction moves. The chunk (98 in production) is shrunk to 2 so that the loop
    runs three rounds without the ~1 minute moto needs for 99 tags' transactions."""
    monkeypatch.setattr(groups, "UNGROUP_CHUNK", 2)
    g = new_group(invoke, "Large")
    members = [new_tag(invoke, f"t{i}", group_id=g["id"]) for i in range(5)]
    assert get_group(invoke, g["id"])["tag_count"] == 5

    assert invoke("DELETE", f"/tag-groups/{g['id']}", query={"ungroup": "true"}).status == 200
    assert invoke("GET", f"/tag-groups/{g['id']}").status == 404
    free = follow(invoke, "/tags", group_id="null", limit=100)
    assert sorted(t["id"] for t in free) == sorted(t["id"] for t in members)
    assert all(t["group_id"] is None and t["version"] == 2 for t in free)


def test_delete_unknown_or_foreign_group_is_404(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tag-groups", body={"name": "Theirs"}, tenant=other_tenant).data
    for group_id in (MISSING_ID, theirs["id"], "nope"):
        for query in (None, {"ungroup": "true"}):
            result = invoke("DELETE", f"/tag-groups/{group_id}", query=query)
            assert result.status == 404, result.json
    assert invoke("GET", f"/tag-groups/{theirs['id']}", tenant=other_tenant).status == 200


def test_foreign_group_is_404_on_get(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tag-groups", body={"name": "Theirs"}, tenant=other_tenant).data
    result = invoke("GET", f"/tag-groups/{theirs['id']}")
    assert result.status == 404 and result.error_codes == ["not_found"]


# --- roles -------------------------------------------------------------------------------------------------------

def test_read_key_reads_but_cannot_write(invoke: Invoke) -> None:
    g = new_group(invoke, "Guarded")
    attempts = [("POST", "/tag-groups", {"name": "Nope"}), ("PATCH", f"/tag-groups/{g['id']}", {"name": "Nope"}),
                ("DELETE", f"/tag-groups/{g['id']}", None)]
    for method, path, body in attempts:
        result = invoke(method, path, body=body, role="read")
        assert result.status == 403, (method, result.json)
        assert result.error_codes == ["forbidden"]
    assert invoke("GET", f"/tag-groups/{g['id']}", role="read").data == g
    assert [x["id"] for x in invoke("GET", "/tag-groups", role="read").data] == [g["id"]]


def test_read_key_is_refused_through_the_authorizer_too(invoke: Invoke, tenant: Any) -> None:
    result = invoke("POST", "/tag-groups", body={"name": "Nope"}, key=tenant.read_key)
    assert result.status == 403, result.json
    assert invoke("GET", "/tag-groups").data == []
