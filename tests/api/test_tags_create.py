"""The tag catalogue by direct handler invocation (API Gateway REST events through the template's routes, moto in
process, one small table a test): POST /tags, the tag's shape, its names and fields, and the request body rules.

Every rule, limit and error code of the contract (docs/errors.md) for these endpoints, as a client sees it: this file
and test_tags_change, test_tags_list and test_tags_auth."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest

from tests.helpers import (
    DEFAULT_APPLIES,
    JSON_HEADERS,
    MAX_BODY,
    MISSING_ID,
    RFC3339_UTC,
    ULID,
    Invoke,
    assert_error,
    batch_create,
    create_in_order,
    get_tag,
    group_count,
    list_tags,
    names_of,
    new_group,
    new_tag,
)

# --- creating: the tag's shape -----------------------------------------------------------------------------------

def test_create_answers_201_with_the_whole_tag_and_defaults(invoke: Invoke, tenant: Any) -> None:
    result = invoke("POST", "/tags", body={"name": "Hot Lead"})
    assert result.status == 201
    assert result.headers["Content-Type"].startswith("application/json")
    assert set(result.json) == {"data"}
    tag = result.data
    assert ULID.match(tag["id"]), tag["id"]
    assert RFC3339_UTC.match(tag["created_at"]) and tag["updated_at"] == tag["created_at"]
    assert {k: v for k, v in tag.items() if k not in ("id", "created_at", "updated_at")} == {
        "object": "tag", "name": "Hot Lead", "name_slug": "hot-lead", "type": "tag", "group_id": None,
        "applies_to": DEFAULT_APPLIES, "color": None, "description": None,
        "usage": {"conversation": 0, "customer": 0, "comment": 0}, "archived_at": None, "account": {"id": tenant.id},
        "version": 1,
    }
    assert get_tag(invoke, tag["id"]) == tag


def test_create_with_every_field(invoke: Invoke) -> None:
    group = new_group(invoke, "Sales")["id"]
    tag = new_tag(invoke, "Won", type="goal", group_id=group,
                 applies_to={"conversation": True, "customer": False, "comment": False}, color="#00FF88",
                 description="Closed deals")
    assert (tag["type"], tag["group_id"], tag["color"], tag["description"]) == ("goal", group, "#00ff88",
                                                                                  "Closed deals")
    assert tag["applies_to"] == {"conversation": True, "customer": False, "comment": False}
    assert get_tag(invoke, tag["id"]) == tag
    assert group_count(invoke, group) == 1


def test_ids_are_unique_and_sortable_by_creation(invoke: Invoke) -> None:
    made = create_in_order(invoke, ["first", "second", "third"])
    ids = [t["id"] for t in made]
    assert ids == sorted(ids) and len(set(ids)) == 3


# --- names ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "stored"), [
    pytest.param("  Hot Lead  ", "Hot Lead", id="trimmed"),
    pytest.param("Hot \t\n\r  Lead", "Hot Lead", id="whitespace-run-folded"),
    pytest.param("Hot\u00a0\u2003Lead", "Hot Lead", id="unicode-spaces-folded"),
    pytest.param("Cafe\u0301", "Caf\u00e9", id="nfc"),
    pytest.param("\u1100\u1161\u11a8", "\uac01", id="nfc-hangul"),
    pytest.param("👩\u200d👩\u200d👧 Family", "👩\u200d👩\u200d👧 Family", id="zwj-emoji-kept"),
])
def test_names_are_trimmed_folded_and_nfc(invoke: Invoke, raw: str, stored: str) -> None:
    tag = new_tag(invoke, raw)
    assert tag["name"] == stored
    assert unicodedata.is_normalized("NFC", tag["name"])
    assert get_tag(invoke, tag["id"])["name"] == stored


@pytest.mark.parametrize("raw", [
    pytest.param("x" * 255, id="255-ascii"),
    pytest.param("   " + "y " * 127 + "y   ", id="255-after-trim"),
    pytest.param("🚀" * 255, id="255-emoji"),
    pytest.param("a", id="1"),
])
def test_names_of_1_to_255_characters_are_accepted(invoke: Invoke, raw: str) -> None:
    tag = new_tag(invoke, raw)
    assert tag["name"] == raw.strip()


def test_the_255_limit_counts_characters_after_nfc(invoke: Invoke) -> None:
    tag = new_tag(invoke, "e\u0301" * 255)
    assert tag["name"] == "\u00e9" * 255


@pytest.mark.parametrize("raw", [
    pytest.param("x" * 256, id="256-ascii"),
    pytest.param("e\u0301" * 256, id="256-after-nfc"),
    pytest.param("ab " * 85 + "c", id="256-with-spaces"),
    pytest.param("  " + "z" * 256 + "  ", id="256-after-trim"),
])
def test_a_name_over_255_characters_after_normalisation_is_refused(invoke: Invoke, raw: str) -> None:
    result = invoke("POST", "/tags", body={"name": raw})
    assert_error(result, 400, "too_long", "name")
    assert list_tags(invoke).data == []


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"name": ""}, "too_short", id="empty"),
    pytest.param({"name": "   \t "}, "invalid_value", id="blank"),
    pytest.param({}, "required", id="missing"),
    pytest.param({"name": None}, "invalid_type", id="null"),
])
def test_a_name_is_required_and_not_empty(invoke: Invoke, body: dict[str, Any], code: str) -> None:
    assert_error(invoke("POST", "/tags", body=body), 400, code, "name")


@pytest.mark.parametrize("char", [
    pytest.param("\x00", id="NUL"), pytest.param("\x1b", id="ESC"), pytest.param("\x7f", id="DEL"),
    pytest.param("\x9b", id="CSI"), pytest.param("\u200b", id="zero-width-space"),
    pytest.param("\u202e", id="right-to-left-override"),
])
def test_control_characters_in_a_name_are_refused(invoke: Invoke, char: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": f"Hot{char}Lead"}), 400, "invalid_value", "name")
    assert list_tags(invoke).data == []


def test_information_separators_are_control_characters_too(invoke: Invoke) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Hot\x1fLead"}), 400, "invalid_value", "name")


@pytest.mark.parametrize(("first", "second"), [
    pytest.param("Hot Lead", "  HOT   LEAD ", id="case-and-spaces"),
    pytest.param("Straße", "STRASSE", id="casefold-sharp-s"),
    pytest.param("Café", "CAFE\u0301", id="nfc-and-case"),
    pytest.param("Ωmega", "ωMEGA", id="greek"),
])
def test_names_are_unique_per_tenant_case_insensitively(invoke: Invoke, first: str, second: str) -> None:
    original = new_tag(invoke, first)
    entry = assert_error(invoke("POST", "/tags", body={"name": second}), 409, "tag_exists", "name")
    assert entry["existing_id"] == original["id"]
    assert [t["id"] for t in list_tags(invoke).data] == [original["id"]]


def test_names_that_differ_beyond_case_may_coexist(invoke: Invoke) -> None:
    data = batch_create(invoke, ["Cafe", "Café", "Hot Lead", "HotLead", "Hot-Lead"])
    assert len(data["inserted"]) == 5, data


def test_a_name_is_unique_per_tenant_only(invoke: Invoke, other_tenant: Any) -> None:
    mine = new_tag(invoke, "Shared Name")
    theirs = invoke("POST", "/tags", body={"name": "shared name"}, tenant=other_tenant)
    assert theirs.status == 201
    assert theirs.data["id"] != mine["id"]
    assert theirs.data["account"] == {"id": other_tenant.id}


SLUGS = {
    "Hot Lead": "hot-lead",
    "Café Crème": "cafe-creme",
    "  Big  Deal!! ": "big-deal",
    "C++ / C#": "c-c",
    "Straße": "strasse",
    "Ångström Über": "angstrom-uber",
    "Привет мир": "привет-мир",
    "東京 タワー": "東京-タワー",
    "नमस्ते": "नमस्ते",
    "Version 2.0": "version-2-0",
}


def test_slug_is_derived_lowercase_and_url_safe(invoke: Invoke) -> None:
    data = batch_create(invoke, list(SLUGS))
    assert dict(zip(SLUGS, (t["name_slug"] for t in data["inserted"]), strict=True)) == SLUGS
    for tag in data["inserted"]:
        assert not re.search(r"[\s/?#%&A-Z]", tag["name_slug"]), tag["name_slug"]


def test_slug_follows_a_rename(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Old Name")
    assert invoke("PATCH", f"/tags/{tag['id']}", body={"name": "Crème Brûlée"}).data["name_slug"] == "creme-brulee"


def test_slug_has_no_stray_combining_marks_after_ascii_letters(invoke: Invoke) -> None:
    assert new_tag(invoke, "İstanbul")["name_slug"] == "istanbul"


# --- fields ----------------------------------------------------------------------------------------------------

def test_type_takes_names_and_numeric_aliases(invoke: Invoke) -> None:
    given = ["tag", "goal", "miss", 1, 2, 3]
    data = batch_create(invoke, [{"name": f"T {g}", "type": g} for g in given])
    assert [t["type"] for t in data["inserted"]] == ["tag", "goal", "miss", "tag", "goal", "miss"]
    assert new_tag(invoke, "Default")["type"] == "tag"


@pytest.mark.parametrize("given", ["GOAL", "2", 4, True])
def test_type_refuses_anything_else(invoke: Invoke, given: Any) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Typed", "type": given}), 400, "invalid_choice", "type")


def test_group_id_zero_or_null_means_free_standing(invoke: Invoke) -> None:
    assert new_tag(invoke, "Zero", group_id=0)["group_id"] is None
    assert new_tag(invoke, "Null", group_id=None)["group_id"] is None


@pytest.mark.parametrize(("given", "code"), [
    pytest.param(MISSING_ID, "group_not_found", id="unknown-id"),
    pytest.param("not-a-group", "group_not_found", id="not-an-id"),
    pytest.param(7, "invalid_type", id="number"),
])
def test_group_id_must_be_an_existing_group(invoke: Invoke, given: Any, code: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Grouped", "group_id": given}), 400, code, "group_id")
    assert list_tags(invoke).data == []
    assert new_tag(invoke, "Grouped")["name"] == "Grouped"  # the refused attempt did not take the name


def test_another_tenants_group_is_not_found(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tag-groups", body={"name": "Theirs"}, tenant=other_tenant).data["id"]
    assert_error(invoke("POST", "/tags", body={"name": "Mine", "group_id": theirs}), 400, "group_not_found",
                 "group_id")


def test_applies_to_defaults_to_true(invoke: Invoke) -> None:
    data = batch_create(invoke, [{"name": "Absent"}, {"name": "Empty", "applies_to": {}},
                          {"name": "One off", "applies_to": {"customer": False}},
                          {"name": "Only comment", "applies_to": {"conversation": False, "customer": False}}])
    assert {t["name"]: t["applies_to"] for t in data["inserted"]} == {
        "Absent": DEFAULT_APPLIES, "Empty": DEFAULT_APPLIES,
        "One off": {"conversation": True, "customer": False, "comment": True},
        "Only comment": {"conversation": False, "customer": False, "comment": True},
    }


@pytest.mark.parametrize(("given", "code", "field"), [
    pytest.param({"conversation": False, "customer": False, "comment": False}, "invalid_value", "applies_to",
                 id="none-true"),
    pytest.param({"conversation": "true"}, "invalid_type", "applies_to.conversation", id="string-bool"),
    pytest.param({"ticket": True}, "unknown_field", "applies_to.ticket", id="unknown-kind"),
    pytest.param(["conversation"], "invalid_type", "applies_to", id="list"),
])
def test_applies_to_is_validated(invoke: Invoke, given: Any, code: str, field: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Scoped", "applies_to": given}), 400, code, field)


def test_color_is_hex_rgb_lowercased(invoke: Invoke) -> None:
    given = {"a": "#ff8800", "b": "#FF8800", "c": "#a1B2c3", "d": None}
    data = batch_create(invoke, [{"name": n, "color": c} for n, c in given.items()])
    assert {t["name"]: t["color"] for t in data["inserted"]} == {"a": "#ff8800", "b": "#ff8800", "c": "#a1b2c3",
                                                                 "d": None}


@pytest.mark.parametrize(("given", "code"), [
    ("ff8800", "invalid_value"), ("#fff", "invalid_value"), ("#gg0000", "invalid_value"), ("red", "invalid_value"),
    ("#ff88001", "too_long"), (0xFF8800, "invalid_type"),
])
def test_color_refuses_other_formats(invoke: Invoke, given: Any, code: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Coloured", "color": given}), 400, code, "color")


def test_description_up_to_500_characters(invoke: Invoke) -> None:
    given = {"a": "d" * 500, "b": "é" * 500, "c": "", "d": None}
    data = batch_create(invoke, [{"name": n, "description": d} for n, d in given.items()])
    assert {t["name"]: t["description"] for t in data["inserted"]} == given


def test_description_over_500_characters_is_refused(invoke: Invoke) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Described", "description": "é" * 501}), 400, "too_long",
                 "description")


@pytest.mark.parametrize("field", ["colour", "id", "version", "usage"])
def test_unknown_and_read_only_fields_are_refused(invoke: Invoke, field: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Strict", field: 1}), 400, "unknown_field", field)
    assert list_tags(invoke).data == []


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"name": 5}, "name", id="name-number"),
    pytest.param({"name": ["Hot"]}, "name", id="name-list"),
    pytest.param({"name": "x", "description": 5}, "description", id="description-number"),
    pytest.param({"name": "x", "applies_to": {"comment": "false"}}, "applies_to.comment", id="bool-as-string"),
])
def test_wrong_types_are_refused_not_coerced(invoke: Invoke, body: dict[str, Any], field: str) -> None:
    assert_error(invoke("POST", "/tags", body=body), 400, "invalid_type", field)


def test_one_error_entry_per_problem(invoke: Invoke) -> None:
    result = invoke("POST", "/tags", body={"name": "", "colour": "#fff", "type": "big", "description": 1})
    assert_error(result, 400, result.json["errors"][0]["code"])
    assert {e["field"]: e["code"] for e in result.json["errors"]} == {
        "name": "too_short", "colour": "unknown_field", "type": "invalid_choice", "description": "invalid_type"}


@pytest.mark.parametrize("body", [
    pytest.param("{bad", id="truncated"),
    pytest.param('{"name": "x",}', id="trailing-comma"),
    pytest.param('{"name": NaN}', id="nan"),
    pytest.param('{"a":' * 30 + "1" + "}" * 30, id="nested-too-deep"),
])
def test_malformed_json_is_400_invalid_json(invoke: Invoke, body: str) -> None:
    assert_error(invoke("POST", "/tags", body=body, headers=JSON_HEADERS), 400, "invalid_json", None)


@pytest.mark.parametrize(("method", "path"), [("POST", "/tags/batch"), ("PATCH", f"/tags/{MISSING_ID}"),
                                              ("PUT", f"/tags/{MISSING_ID}")])
def test_malformed_json_is_400_on_every_write(invoke: Invoke, method: str, path: str) -> None:
    assert_error(invoke(method, path, body="{'tags': ['x']}", headers=JSON_HEADERS), 400, "invalid_json", None)


@pytest.mark.parametrize("body", [pytest.param([], id="array"), pytest.param("plain", id="string")])
def test_a_body_that_is_not_an_object_is_refused(invoke: Invoke, body: Any) -> None:
    assert_error(invoke("POST", "/tags", body=json.dumps(body), headers=JSON_HEADERS), 400, "invalid_type")


def _padded_body(size: int) -> str:
    """A JSON object of exactly `size` bytes (its extra field is refused, but only after the size check)."""
    empty = json.dumps({"name": "Big", "pad": ""})
    body = json.dumps({"name": "Big", "pad": "a" * (size - len(empty))})
    assert len(body.encode()) == size
    return body


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/tags"), ("POST", "/tags/batch"), ("PUT", f"/tags/{MISSING_ID}"), ("PATCH", f"/tags/{MISSING_ID}"),
])
def test_a_body_over_64_kib_is_413(invoke: Invoke, method: str, path: str) -> None:
    assert_error(invoke(method, path, body=_padded_body(MAX_BODY + 1), headers=JSON_HEADERS), 413,
                 "payload_too_large")
    at_limit = invoke(method, path, body=_padded_body(MAX_BODY), headers=JSON_HEADERS)
    assert_error(at_limit, 400, at_limit.json["errors"][0]["code"])  # judged on its content, not its size
    assert ("unknown_field", "pad") in {(e["code"], e.get("field")) for e in at_limit.json["errors"]}


def test_the_64_kib_limit_counts_bytes_not_characters(invoke: Invoke) -> None:
    body = json.dumps({"name": "Big", "pad": "é" * (MAX_BODY // 2)}, ensure_ascii=False)
    assert len(body) < MAX_BODY < len(body.encode())
    assert_error(invoke("POST", "/tags", body=body, headers=JSON_HEADERS), 413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415(invoke: Invoke, content_type: str) -> None:
    result = invoke("POST", "/tags", body=json.dumps({"name": "x"}), headers={"Content-Type": content_type})
    assert_error(result, 415, "unsupported_media_type")
    assert list_tags(invoke).data == []


@pytest.mark.parametrize(("method", "path"), [("POST", "/tags/batch"), ("PATCH", "/tags/{id}"), ("PUT", "/tags/{id}")])
def test_415_on_every_write(invoke: Invoke, method: str, path: str) -> None:
    tag = new_tag(invoke, "x")
    body = json.dumps({"name": "y", "tags": ["y"]} if method == "POST" else {"name": "y"})
    result = invoke(method, path.replace("{id}", tag["id"]), body=body, headers={"Content-Type": "text/plain"})
    assert_error(result, 415, "unsupported_media_type")
    assert names_of(list_tags(invoke)) == ["x"]


def test_json_with_a_charset_is_json(invoke: Invoke) -> None:
    result = invoke("POST", "/tags", body=json.dumps({"name": "Charset"}),
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert result.status == 201, result.json
