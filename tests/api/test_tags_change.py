"""The tag catalogue by direct handler invocation (API Gateway REST events through the template's routes, moto in
process): reading one tag, changing it (PUT, PATCH, If-Match, renames), deleting it, and POST /tags/batch."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.helpers import (
    DEFAULT_APPLIES,
    MISSING_ID,
    Invoke,
    assert_error,
    batch_create,
    get_tag,
    group_count,
    list_tags,
    names_of,
    new_group,
    new_tag,
)

# --- reading ---------------------------------------------------------------------------------------------------

def test_get_answers_the_tag_with_its_version_as_etag(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Tracked")
    first = invoke("GET", f"/tags/{tag['id']}")
    assert first.status == 200
    assert first.headers["ETag"] == '"1"'
    assert first.json == {"data": tag}
    invoke("PATCH", f"/tags/{tag['id']}", body={"color": "#123456"})
    second = invoke("GET", f"/tags/{tag['id']}")
    assert second.headers["ETag"] == '"2"'
    assert second.data["version"] == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_unknown_ids_are_404(invoke: Invoke, method: str) -> None:
    body = {"name": "Whatever"} if method in ("PUT", "PATCH") else None
    for tag_id in (MISSING_ID, "nope", MISSING_ID.lower(), "0" * 64):
        assert_error(invoke(method, f"/tags/{tag_id}", body=body), 404, "not_found", "id")


# --- changing: PUT and PATCH --------------------------------------------------------------------------------------

def test_patch_changes_only_the_given_fields_and_bumps_version(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Patched", type="goal", color="#111111", description="before")
    time.sleep(0.003)
    result = invoke("PATCH", f"/tags/{tag['id']}", body={"description": "after"})
    assert result.status == 200
    patched = result.data
    assert result.headers["ETag"] == '"2"'
    assert (patched["version"], patched["description"]) == (2, "after")
    assert patched["updated_at"] > tag["updated_at"]
    assert patched["created_at"] == tag["created_at"]
    unchanged = {k: v for k, v in tag.items() if k not in ("description", "version", "updated_at")}
    assert {k: v for k, v in patched.items() if k in unchanged} == unchanged
    assert get_tag(invoke, tag["id"]) == patched


def test_version_goes_up_by_one_on_every_change(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Counted")
    changes = [("PATCH", {"color": "#000001"}), ("PATCH", {"name": "Counted Twice"}), ("PUT", {"name": "Put"}),
               ("PATCH", {"type": 3}), ("PATCH", {"applies_to": {"comment": False}})]
    stamps = [tag["updated_at"]]
    for expected, (method, body) in enumerate(changes, start=2):
        time.sleep(0.003)
        result = invoke(method, f"/tags/{tag['id']}", body=body)
        assert result.status == 200, result.json
        assert result.data["version"] == expected
        assert result.headers["ETag"] == f'"{expected}"'
        stamps.append(result.data["updated_at"])
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert invoke("GET", f"/tags/{tag['id']}").headers["ETag"] == f'"{len(changes) + 1}"'


def test_a_patch_or_put_that_changes_nothing_keeps_version_and_updated_at(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Same Name", type="goal", color="#abcdef", description="Same")
    time.sleep(0.003)
    no_ops = [
        ("PATCH", {}), ("PATCH", {"name": "  Same   Name "}), ("PATCH", {"color": "#ABCDEF"}), ("PATCH", {"type": 2}),
        ("PATCH", {"group_id": 0}), ("PATCH", {"applies_to": {}}), ("PATCH", {"description": "Same", "type": "goal"}),
        ("PUT", {"name": "Same Name", "type": "goal", "color": "#abcdef", "description": "Same"}),
    ]
    for method, body in no_ops:
        result = invoke(method, f"/tags/{tag['id']}", body=body)
        assert result.status == 200, (body, result.json)
        assert result.data == tag, body
        assert result.headers["ETag"] == '"1"', body
    assert get_tag(invoke, tag["id"]) == tag


def test_put_resets_absent_fields_to_defaults(invoke: Invoke) -> None:
    group = new_group(invoke, "Old Group")["id"]
    tag = new_tag(invoke, "Full", type="miss", group_id=group, applies_to={"customer": False}, color="#aaaaaa",
                 description="all set")
    result = invoke("PUT", f"/tags/{tag['id']}", body={"name": "Bare"})
    assert result.status == 200, result.json
    replaced = result.data
    assert {k: replaced[k] for k in ("name", "name_slug", "type", "group_id", "applies_to", "color", "description",
                                     "version")} == {
        "name": "Bare", "name_slug": "bare", "type": "tag", "group_id": None, "applies_to": DEFAULT_APPLIES,
        "color": None, "description": None, "version": 2}
    assert (replaced["id"], replaced["created_at"]) == (tag["id"], tag["created_at"])
    assert get_tag(invoke, tag["id"]) == replaced
    assert group_count(invoke, group) == 0


def test_put_sets_every_given_field(invoke: Invoke) -> None:
    group = new_group(invoke, "New Group")["id"]
    tag = new_tag(invoke, "Plain")
    body = {"name": "Rich", "type": 2, "group_id": group, "applies_to": {"conversation": False},
            "color": "#BBBBBB", "description": "now"}
    replaced = invoke("PUT", f"/tags/{tag['id']}", body=body).data
    assert (replaced["type"], replaced["group_id"], replaced["color"], replaced["description"]) == (
        "goal", group, "#bbbbbb", "now")
    assert replaced["applies_to"] == {"conversation": False, "customer": True, "comment": True}
    assert group_count(invoke, group) == 1


@pytest.mark.parametrize(("body", "code", "field"), [
    pytest.param({}, "required", "name", id="name-required"),
    pytest.param({"name": "x", "extra": 1}, "unknown_field", "extra", id="unknown-field"),
    pytest.param({"name": "x", "group_id": MISSING_ID}, "group_not_found", "group_id", id="unknown-group"),
])
def test_put_validates_like_create(invoke: Invoke, body: dict[str, Any], code: str, field: str) -> None:
    tag = new_tag(invoke, "Kept")
    assert_error(invoke("PUT", f"/tags/{tag['id']}", body=body), 400, code, field)
    assert get_tag(invoke, tag["id"]) == tag


def test_patch_null_clears_color_and_description(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Clearable", color="#abcdef", description="text")
    no_color = invoke("PATCH", f"/tags/{tag['id']}", body={"color": None}).data
    assert (no_color["color"], no_color["description"], no_color["version"]) == (None, "text", 2)
    no_text = invoke("PATCH", f"/tags/{tag['id']}", body={"description": None}).data
    assert (no_text["color"], no_text["description"], no_text["version"]) == (None, None, 3)


def test_patch_group_moves_and_null_ungroups(invoke: Invoke) -> None:
    first, second = new_group(invoke, "First")["id"], new_group(invoke, "Second")["id"]
    tag = new_tag(invoke, "Mover", group_id=first)
    assert invoke("PATCH", f"/tags/{tag['id']}", body={"group_id": second}).data["group_id"] == second
    assert [group_count(invoke, g) for g in (first, second)] == [0, 1]
    assert invoke("PATCH", f"/tags/{tag['id']}", body={"group_id": None}).data["group_id"] is None
    assert group_count(invoke, second) == 0


def test_patch_refuses_bad_changes_and_leaves_the_tag(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Guarded")
    refused = [
        ({"name": None}, "invalid_value"), ({"type": None}, "invalid_value"), ({"applies_to": None}, "invalid_value"),
        ({"name": ""}, "too_short"), ({"name": "n" * 256}, "too_long"), ({"group_id": MISSING_ID}, "group_not_found"),
        ({"applies_to": {"conversation": False, "customer": False, "comment": False}}, "invalid_value"),
        ({"version": 9}, "unknown_field"), ({"color": "#12345"}, "invalid_value"),
        ({"description": "x" * 501}, "too_long"), ({"type": "GOAL"}, "invalid_choice"),
    ]
    for body, code in refused:
        result = invoke("PATCH", f"/tags/{tag['id']}", body=body)
        assert_error(result, 400, code)
        assert get_tag(invoke, tag["id"]) == tag, body


def test_patch_null_for_a_required_field_names_the_field(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Guarded")
    assert_error(invoke("PATCH", f"/tags/{tag['id']}", body={"name": None}), 400, "invalid_value", "name")


def test_patch_applies_to_changes_only_the_given_kinds(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Scoped", applies_to={"conversation": False})
    patched = invoke("PATCH", f"/tags/{tag['id']}", body={"applies_to": {"customer": False}}).data
    assert patched["applies_to"] == {"conversation": False, "customer": False, "comment": True}


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"applies_to": {"customer": False, "comment": False}}, "applies_to", id="none-left"),
    pytest.param({"applies_to": {"comment": None}}, "applies_to.comment", id="null-kind"),
])
def test_patch_applies_to_must_leave_one_kind(invoke: Invoke, body: dict[str, Any], field: str) -> None:
    tag = new_tag(invoke, "Narrow", applies_to={"conversation": False})
    assert_error(invoke("PATCH", f"/tags/{tag['id']}", body=body), 400, "invalid_value", field)
    assert get_tag(invoke, tag["id"]) == tag


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_renaming_onto_a_taken_name_is_409(invoke: Invoke, method: str) -> None:
    taken = new_tag(invoke, "Taken")
    tag = new_tag(invoke, "Mine")
    result = invoke(method, f"/tags/{tag['id']}", body={"name": "  TAKEN "})
    assert assert_error(result, 409, "tag_exists", "name")["existing_id"] == taken["id"]
    assert get_tag(invoke, tag["id"]) == tag


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_case_only_rename_is_allowed_and_keeps_the_name_reserved(invoke: Invoke, method: str) -> None:
    tag = new_tag(invoke, "hot lead")
    result = invoke(method, f"/tags/{tag['id']}", body={"name": "Hot Lead"})
    assert result.status == 200, result.json
    assert (result.data["name"], result.data["name_slug"], result.data["version"]) == ("Hot Lead", "hot-lead", 2)
    clash = invoke("POST", "/tags", body={"name": "HOT LEAD"})
    assert assert_error(clash, 409, "tag_exists")["existing_id"] == tag["id"]
    assert names_of(list_tags(invoke)) == ["Hot Lead"]


def test_a_rename_frees_the_old_name_and_takes_the_new_one(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Before")
    renamed = invoke("PATCH", f"/tags/{tag['id']}", body={"name": "After"}).data
    assert (renamed["name"], renamed["name_slug"]) == ("After", "after")
    assert new_tag(invoke, "before")["id"] != tag["id"]
    assert assert_error(invoke("POST", "/tags", body={"name": "AFTER"}), 409, "tag_exists")["existing_id"] == tag["id"]
    assert names_of(list_tags(invoke)) == ["After", "before"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_if_match_with_the_current_version_applies(invoke: Invoke, method: str) -> None:
    tag = new_tag(invoke, "Versioned")
    result = invoke(method, f"/tags/{tag['id']}", body={"name": "Versioned", "color": "#010101"},
                    headers={"If-Match": '"1"'})
    assert result.status == 200, result.json
    assert result.data["version"] == 2
    again = invoke(method, f"/tags/{tag['id']}", body={"name": "Versioned", "color": "#020202"},
                   headers={"If-Match": result.headers["ETag"]})
    assert again.status == 200 and again.data["version"] == 3


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_stale_if_match_is_412_and_changes_nothing(invoke: Invoke, method: str) -> None:
    tag = new_tag(invoke, "Contended")
    current = invoke("PATCH", f"/tags/{tag['id']}", body={"color": "#000000"}).data
    assert current["version"] == 2
    for stale in ('"1"', '"3"', '"0"'):
        result = invoke(method, f"/tags/{tag['id']}", body={"name": "Lost Update"}, headers={"If-Match": stale})
        assert_error(result, 412, "precondition_failed", "If-Match")
        assert get_tag(invoke, tag["id"]) == current
    assert_error(invoke("PATCH", f"/tags/{tag['id']}", body={}, headers={"If-Match": '"1"'}), 412,
                 "precondition_failed")  # even when the change would be a no-op


def test_delete_honours_if_match(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Delete me")
    invoke("PATCH", f"/tags/{tag['id']}", body={"description": "v2"})
    assert_error(invoke("DELETE", f"/tags/{tag['id']}", headers={"If-Match": '"1"'}), 412, "precondition_failed",
                 "If-Match")
    assert get_tag(invoke, tag["id"])["version"] == 2
    deleted = invoke("DELETE", f"/tags/{tag['id']}", headers={"If-Match": '"2"'})
    assert deleted.status == 200 and deleted.data["deleted"] is True
    assert invoke("GET", f"/tags/{tag['id']}").status == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_malformed_if_match_is_400_invalid_header(invoke: Invoke, method: str) -> None:
    tag = new_tag(invoke, "Headed")
    for header in ("abc", '"x"', '"-1"', '"1.0"', '""', '"' + "9" * 20 + '"', '"\u00b2"', '"\u0661"'):  # "²" was a 500
        result = invoke(method, f"/tags/{tag['id']}", body={"name": "Other"}, headers={"If-Match": header})
        assert_error(result, 400, "invalid_header", "If-Match")
    assert get_tag(invoke, tag["id"]) == tag


# --- deleting ------------------------------------------------------------------------------------------------------

def test_delete_answers_the_envelope_then_the_tag_is_gone_and_its_name_free(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Doomed")
    keep = new_tag(invoke, "Kept")
    result = invoke("DELETE", f"/tags/{tag['id']}")
    assert result.status == 200
    assert result.json == {"data": {"id": tag["id"], "object": "tag", "deleted": True}}
    assert_error(invoke("GET", f"/tags/{tag['id']}"), 404, "not_found")
    assert_error(invoke("DELETE", f"/tags/{tag['id']}"), 404, "not_found")
    assert_error(invoke("PATCH", f"/tags/{tag['id']}", body={"color": None}), 404, "not_found")
    page = list_tags(invoke)
    assert [t["id"] for t in page.data] == [keep["id"]]
    assert page.json["meta"]["total"] == 1
    again = new_tag(invoke, "DOOMED")
    assert again["id"] != tag["id"]
    assert again["version"] == 1


def test_deleting_a_grouped_tag_empties_its_group(invoke: Invoke) -> None:
    group = new_group(invoke, "Holder")["id"]
    tag = new_tag(invoke, "Member", group_id=group)
    assert invoke("DELETE", f"/tags/{tag['id']}").status == 200
    assert group_count(invoke, group) == 0
    assert invoke("DELETE", f"/tag-groups/{group}").status == 200


# --- batch ---------------------------------------------------------------------------------------------------------

def test_batch_creates_from_strings_and_objects(invoke: Invoke) -> None:
    group = new_group(invoke, "Batch Group")["id"]
    data = batch_create(invoke, ["Plain", {"name": "Goal", "type": 2, "color": "#ABCDEF"},
                          {"name": "Grouped", "group_id": group, "applies_to": {"comment": False}}, "  Spaced  Out "])
    assert set(data) == {"inserted", "existing", "errors"}
    assert (data["existing"], data["errors"]) == ([], [])
    inserted = {t["name"]: t for t in data["inserted"]}
    assert list(inserted) == ["Plain", "Goal", "Grouped", "Spaced Out"]
    assert (inserted["Goal"]["type"], inserted["Goal"]["color"]) == ("goal", "#abcdef")
    assert inserted["Grouped"]["group_id"] == group
    assert inserted["Grouped"]["applies_to"] == {"conversation": True, "customer": True, "comment": False}
    assert inserted["Plain"]["applies_to"] == DEFAULT_APPLIES and inserted["Plain"]["type"] == "tag"
    for tag in data["inserted"]:
        assert get_tag(invoke, tag["id"]) == tag
    assert list_tags(invoke).json["meta"]["total"] == 4
    assert group_count(invoke, group) == 1


def test_batch_counts_names_repeated_in_one_request_once(invoke: Invoke) -> None:
    data = batch_create(invoke, ["Alpha", " alpha ", {"name": "ALPHA", "type": "goal"}, "Straße", "STRASSE", "Beta"])
    assert [t["name"] for t in data["inserted"]] == ["Alpha", "Straße", "Beta"]
    assert data["inserted"][0]["type"] == "tag"  # the first occurrence wins
    assert (data["existing"], data["errors"]) == ([], [])
    assert list_tags(invoke).json["meta"]["total"] == 3


def test_batch_reports_existing_names_with_their_ids(invoke: Invoke) -> None:
    hot = new_tag(invoke, "Hot Lead")
    cafe = new_tag(invoke, "Café")
    data = batch_create(invoke, ["hot lead", "New One", {"name": "CAFE\u0301", "color": "#000000"}])
    assert [t["name"] for t in data["inserted"]] == ["New One"]
    assert {e["id"]: e["name"].casefold() for e in data["existing"]} == {hot["id"]: "hot lead", cafe["id"]: "café"}
    assert data["errors"] == []
    assert get_tag(invoke, hot["id"]) == hot
    assert get_tag(invoke, cafe["id"]) == cafe  # an existing tag is reported, never changed


def test_batch_reports_bad_items_by_index_and_inserts_the_good_ones(invoke: Invoke) -> None:
    data = batch_create(invoke, ["Good", "", {"name": "Painted", "color": "bad"}, {"nme": "typo"}, "Also Good",
                          "Bad\x00Name", {"name": "Orphan", "group_id": MISSING_ID}, {"name": "x" * 256},
                          {"name": "Typed", "type": "big"}])
    assert [t["name"] for t in data["inserted"]] == ["Good", "Also Good"]
    assert data["existing"] == []
    found = {e["index"]: sorted((x["code"], x.get("field")) for x in e["errors"]) for e in data["errors"]}
    assert found == {
        1: [("too_short", "name")],
        2: [("invalid_value", "color")],
        3: [("required", "name"), ("unknown_field", "nme")],
        5: [("invalid_value", "name")],
        6: [("group_not_found", "group_id")],
        7: [("too_long", "name")],
        8: [("invalid_choice", "type")],
    }
    assert [e["index"] for e in data["errors"]] == sorted(found)
    assert all(x["message"] for e in data["errors"] for x in e["errors"])
    assert names_of(list_tags(invoke)) == ["Also Good", "Good"]


def test_a_batch_item_of_the_wrong_type_does_not_stop_the_good_ones(invoke: Invoke) -> None:
    result = invoke("POST", "/tags/batch", body={"tags": ["Good", 5, None, ["Nested"]]})
    assert result.status == 200, result.json
    assert [t["name"] for t in result.data["inserted"]] == ["Good"]
    assert [e["index"] for e in result.data["errors"]] == [1, 2, 3]


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"tags": []}, "too_short", id="zero-items"),
    pytest.param({"tags": [f"t{i}" for i in range(101)]}, "too_long", id="101-items"),
    pytest.param({}, "required", id="no-tags"),
    pytest.param({"tags": "Hot"}, "invalid_type", id="not-a-list"),
])
def test_batch_takes_1_to_100_items(invoke: Invoke, body: dict[str, Any], code: str) -> None:
    assert_error(invoke("POST", "/tags/batch", body=body), 400, code, "tags")
    assert list_tags(invoke).data == []


def test_batch_refuses_unknown_top_level_fields(invoke: Invoke) -> None:
    assert_error(invoke("POST", "/tags/batch", body={"tags": ["a"], "upsert": True}), 400, "unknown_field", "upsert")
    assert list_tags(invoke).data == []


def test_batch_of_exactly_100_items_is_accepted(invoke: Invoke) -> None:
    existing = new_tag(invoke, "Already")
    items = ["Fresh"] + [("already", "ALREADY", {"name": " Already "})[i % 3] for i in range(98)] + ["fresh"]
    assert len(items) == 100
    data = batch_create(invoke, items)
    assert [t["name"] for t in data["inserted"]] == ["Fresh"]
    assert [e["id"] for e in data["existing"]] == [existing["id"]]
    assert data["errors"] == []
