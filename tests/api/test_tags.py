"""The tag catalogue (POST /tags, POST /tags/batch, GET /tags, GET/PUT/PATCH/DELETE /tags/{id}) by direct handler
invocation: real API Gateway REST events through the template's routes, moto in process, one small table a test.

Every rule, limit and error code of the contract (API.md, docs/errors.md) for these endpoints, as a client sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from tags_core.auth import revoke_api_key
from tests.helpers import (
    JSON_HEADERS,
    MAX_BODY,
    MISSING_ID,
    RFC3339_UTC,
    ULID,
    Invoke,
    assert_error,
    get_tag,
    new_group,
    new_tag,
)

DEFAULT_APPLIES = {"conversation": True, "customer": True, "comment": True}


# --- helpers -----------------------------------------------------------------------------------------------------


def create_in_order(invoke: Invoke, names: list[str]) -> list[dict[str, Any]]:
    """One request per tag, a few milliseconds apart, so that creation order is unambiguous."""
    made = []
    for name in names:
        made.append(new_tag(invoke, name))
        time.sleep(0.003)
    return made


def batch(invoke: Invoke, items: list[Any]) -> dict[str, Any]:
    result = invoke("POST", "/tags/batch", body={"tags": items})
    assert result.status == 200, result.json
    return result.data


def group_count(invoke: Invoke, group_id: str) -> int:
    return invoke("GET", f"/tag-groups/{group_id}").data["tag_count"]


def listing(invoke: Invoke, **query: Any) -> Any:
    result = invoke("GET", "/tags", query=query)
    assert result.status == 200, result.json
    return result


def names_of(result: Any) -> list[str]:
    return [t["name"] for t in result.data]


def walk(invoke: Invoke, limit: int, **query: Any) -> tuple[list[str], int]:
    """Follow next_cursor from the first page to the end: the names seen and the number of pages."""
    seen: list[str] = []
    cursor = None
    for pages in range(1, 200):
        page = listing(invoke, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
        assert len(page.data) <= limit
        seen += names_of(page)
        cursor = page.json["meta"]["next_cursor"]
        if cursor is None:
            return seen, pages
    raise AssertionError("the cursor never ends")


def client_path(result: Any) -> str:
    """The path the client called (on the execute-api endpoint: with the stage)."""
    return result.event["requestContext"]["path"]


def link_parts(link: str | None) -> tuple[str, dict[str, str]] | None:
    """A link as (path, query parameters); the default sort may be left out."""
    if link is None:
        return None
    parts = urlsplit(link)
    params = dict(parse_qsl(parts.query))
    params.setdefault("sort", "name")
    return parts.path, params


def by_name(names: list[str]) -> list[str]:
    return sorted(names, key=str.casefold)


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
        "usage": {"conversation": 0, "customer": 0, "comment": 0}, "account": {"id": tenant.id}, "version": 1,
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
    # docs/errors.md lists this case under invalid_value; the code answers too_long since f4a0c4b.
    assert_error(result, 400, "too_long", "name")
    assert listing(invoke).data == []


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
    assert listing(invoke).data == []


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
    assert [t["id"] for t in listing(invoke).data] == [original["id"]]


def test_names_that_differ_beyond_case_may_coexist(invoke: Invoke) -> None:
    data = batch(invoke, ["Cafe", "Café", "Hot Lead", "HotLead", "Hot-Lead"])
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
    data = batch(invoke, list(SLUGS))
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
    data = batch(invoke, [{"name": f"T {g}", "type": g} for g in given])
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
    assert listing(invoke).data == []
    assert new_tag(invoke, "Grouped")["name"] == "Grouped"  # the refused attempt did not take the name


def test_another_tenants_group_is_not_found(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tag-groups", body={"name": "Theirs"}, tenant=other_tenant).data["id"]
    assert_error(invoke("POST", "/tags", body={"name": "Mine", "group_id": theirs}), 400, "group_not_found",
                 "group_id")


def test_applies_to_defaults_to_true(invoke: Invoke) -> None:
    data = batch(invoke, [{"name": "Absent"}, {"name": "Empty", "applies_to": {}},
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
    data = batch(invoke, [{"name": n, "color": c} for n, c in given.items()])
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
    data = batch(invoke, [{"name": n, "description": d} for n, d in given.items()])
    assert {t["name"]: t["description"] for t in data["inserted"]} == given


def test_description_over_500_characters_is_refused(invoke: Invoke) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Described", "description": "é" * 501}), 400, "too_long",
                 "description")


@pytest.mark.parametrize("field", ["colour", "id", "version", "usage"])
def test_unknown_and_read_only_fields_are_refused(invoke: Invoke, field: str) -> None:
    assert_error(invoke("POST", "/tags", body={"name": "Strict", field: 1}), 400, "unknown_field", field)
    assert listing(invoke).data == []


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
    assert listing(invoke).data == []


@pytest.mark.parametrize(("method", "path"), [("POST", "/tags/batch"), ("PATCH", "/tags/{id}"), ("PUT", "/tags/{id}")])
def test_415_on_every_write(invoke: Invoke, method: str, path: str) -> None:
    tag = new_tag(invoke, "x")
    body = json.dumps({"name": "y", "tags": ["y"]} if method == "POST" else {"name": "y"})
    result = invoke(method, path.replace("{id}", tag["id"]), body=body, headers={"Content-Type": "text/plain"})
    assert_error(result, 415, "unsupported_media_type")
    assert names_of(listing(invoke)) == ["x"]


def test_json_with_a_charset_is_json(invoke: Invoke) -> None:
    result = invoke("POST", "/tags", body=json.dumps({"name": "Charset"}),
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert result.status == 201, result.json


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
    assert names_of(listing(invoke)) == ["Hot Lead"]


def test_a_rename_frees_the_old_name_and_takes_the_new_one(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Before")
    renamed = invoke("PATCH", f"/tags/{tag['id']}", body={"name": "After"}).data
    assert (renamed["name"], renamed["name_slug"]) == ("After", "after")
    assert new_tag(invoke, "before")["id"] != tag["id"]
    assert assert_error(invoke("POST", "/tags", body={"name": "AFTER"}), 409, "tag_exists")["existing_id"] == tag["id"]
    assert names_of(listing(invoke)) == ["After", "before"]


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
    page = listing(invoke)
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
    data = batch(invoke, ["Plain", {"name": "Goal", "type": 2, "color": "#ABCDEF"},
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
    assert listing(invoke).json["meta"]["total"] == 4
    assert group_count(invoke, group) == 1


def test_batch_counts_names_repeated_in_one_request_once(invoke: Invoke) -> None:
    data = batch(invoke, ["Alpha", " alpha ", {"name": "ALPHA", "type": "goal"}, "Straße", "STRASSE", "Beta"])
    assert [t["name"] for t in data["inserted"]] == ["Alpha", "Straße", "Beta"]
    assert data["inserted"][0]["type"] == "tag"  # the first occurrence wins
    assert (data["existing"], data["errors"]) == ([], [])
    assert listing(invoke).json["meta"]["total"] == 3


def test_batch_reports_existing_names_with_their_ids(invoke: Invoke) -> None:
    hot = new_tag(invoke, "Hot Lead")
    cafe = new_tag(invoke, "Café")
    data = batch(invoke, ["hot lead", "New One", {"name": "CAFE\u0301", "color": "#000000"}])
    assert [t["name"] for t in data["inserted"]] == ["New One"]
    assert {e["id"]: e["name"].casefold() for e in data["existing"]} == {hot["id"]: "hot lead", cafe["id"]: "café"}
    assert data["errors"] == []
    assert get_tag(invoke, hot["id"]) == hot
    assert get_tag(invoke, cafe["id"]) == cafe  # an existing tag is reported, never changed


def test_batch_reports_bad_items_by_index_and_inserts_the_good_ones(invoke: Invoke) -> None:
    data = batch(invoke, ["Good", "", {"name": "Painted", "color": "bad"}, {"nme": "typo"}, "Also Good",
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
    assert names_of(listing(invoke)) == ["Also Good", "Good"]


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
    assert listing(invoke).data == []


def test_batch_refuses_unknown_top_level_fields(invoke: Invoke) -> None:
    assert_error(invoke("POST", "/tags/batch", body={"tags": ["a"], "upsert": True}), 400, "unknown_field", "upsert")
    assert listing(invoke).data == []


def test_batch_of_exactly_100_items_is_accepted(invoke: Invoke) -> None:
    existing = new_tag(invoke, "Already")
    items = ["Fresh"] + [("already", "ALREADY", {"name": " Already "})[i % 3] for i in range(98)] + ["fresh"]
    assert len(items) == 100
    data = batch(invoke, items)
    assert [t["name"] for t in data["inserted"]] == ["Fresh"]
    assert [e["id"] for e in data["existing"]] == [existing["id"]]
    assert data["errors"] == []


# --- listing -------------------------------------------------------------------------------------------------------

def test_the_four_sorts(invoke: Invoke) -> None:
    created = ["banana", "Apple", "cherry", "apple pie", "Zed", "Date"]
    by_name_order = ["Apple", "apple pie", "banana", "cherry", "Date", "Zed"]
    create_in_order(invoke, created)
    assert names_of(listing(invoke)) == by_name_order
    assert names_of(listing(invoke, sort="name")) == by_name_order
    assert names_of(listing(invoke, sort="-name")) == by_name_order[::-1]
    assert names_of(listing(invoke, sort="created_at")) == created
    assert names_of(listing(invoke, sort="-created_at")) == created[::-1]


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-created_at"])
def test_cursor_pagination_visits_every_tag_once_in_order(invoke: Invoke, sort: str) -> None:
    names = [f"Tag {i:02d}" for i in range(13)]
    batch(invoke, names)
    everything = names_of(listing(invoke, sort=sort, limit=100))
    assert sorted(everything) == names
    for limit in (2, 5, 13):
        seen, pages = walk(invoke, limit, sort=sort)
        assert seen == everything, limit
        assert pages == -(-13 // limit)


def test_page_numbers_cover_the_same_tags_as_the_cursor(invoke: Invoke) -> None:
    names = [f"P{i}" for i in range(7)]
    batch(invoke, names)
    by_page = [n for p in (1, 2, 3) for n in names_of(listing(invoke, limit=3, page=p))]
    assert by_page == by_name(names) == walk(invoke, 3)[0]
    assert listing(invoke, limit=3, page=4).data == []


def test_the_limit_may_change_between_cursor_pages(invoke: Invoke) -> None:
    batch(invoke, [f"L{i}" for i in range(8)])
    first = listing(invoke, limit=2)
    rest = listing(invoke, limit=10, cursor=first.json["meta"]["next_cursor"])
    assert names_of(first) + names_of(rest) == by_name([f"L{i}" for i in range(8)])


def test_limit_defaults_to_20_and_goes_from_1_to_100(invoke: Invoke) -> None:
    batch(invoke, [f"D{i:02d}" for i in range(21)])
    page = listing(invoke)
    assert len(page.data) == 20
    assert page.json["meta"]["per_page"] == 20
    assert page.json["meta"]["next_cursor"]
    assert len(listing(invoke, limit=100).data) == 21
    assert len(listing(invoke, limit=1).data) == 1


@pytest.mark.parametrize(("query", "code", "field"), [
    pytest.param({"limit": 0}, "out_of_range", "limit", id="limit-0"),
    pytest.param({"limit": 101}, "out_of_range", "limit", id="limit-101"),
    pytest.param({"limit": "abc"}, "invalid_type", "limit", id="limit-abc"),
    pytest.param({"limit": "2.5"}, "invalid_type", "limit", id="limit-decimal"),
    pytest.param({"page": 0}, "out_of_range", "page", id="page-0"),
    pytest.param({"page": "two"}, "invalid_type", "page", id="page-word"),
    pytest.param({"page": 10_001}, "out_of_range", "page", id="page-beyond-offset-cap"),
    pytest.param({"sort": "updated_at"}, "invalid_choice", "sort", id="sort-unknown"),
    pytest.param({"type": "label"}, "invalid_choice", "type", id="type-unknown"),
    pytest.param({"applies_to": "ticket"}, "invalid_choice", "applies_to", id="applies-to-unknown"),
    pytest.param({"group_id": "not-a-group"}, "invalid_value", "group_id", id="group-id-malformed"),
    pytest.param({"q": "   "}, "invalid_value", "q", id="q-blank"),
    pytest.param({"cursor": "x" * 2049}, "too_long", "cursor", id="cursor-too-long"),
])
def test_list_parameters_are_validated(invoke: Invoke, query: dict[str, Any], code: str, field: str) -> None:
    assert_error(invoke("GET", "/tags", query=query), 400, code, field)


def test_unknown_query_parameters_are_refused_one_entry_each(invoke: Invoke) -> None:
    assert_error(invoke("GET", "/tags", query={"foo": "1"}), 400, "unknown_parameter", "foo")
    result = invoke("GET", "/tags", query={"per_page": "5", "offset": "2", "limit": "5"})
    assert_error(result, 400, "unknown_parameter")
    assert sorted(e["field"] for e in result.json["errors"]) == ["offset", "per_page"]


def test_page_and_cursor_together_are_refused(invoke: Invoke) -> None:
    batch(invoke, ["a", "b", "c"])
    cursor = listing(invoke, limit=1).json["meta"]["next_cursor"]
    assert_error(invoke("GET", "/tags", query={"page": 2, "cursor": cursor}), 400, "conflicting_parameters")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tampered_cursors(cursor: str) -> dict[str, str]:
    """Variants of a real cursor a client could forge; none is the service's own."""
    body, signature = cursor.split(".", 1)
    payload = json.loads(_unb64(body))
    sig = _unb64(signature)

    def encode(data: dict[str, Any], signed: bytes) -> str:
        return f"{_b64(json.dumps(data, separators=(',', ':')).encode())}.{_b64(signed)}"

    moved = json.loads(json.dumps(payload))
    position = next(v for v in moved["k"].values() if isinstance(v, dict) and "S" in v)
    position["S"] = position["S"][:-1] + ("0" if position["S"][-1] != "0" else "1")
    wrong_secret = hmac.new(b"not-the-service-secret-0123456789", json.dumps(payload, separators=(",", ":")).encode(),
                            hashlib.sha256).digest()[:16]
    return {
        "bad-signature": f"{body}.{_b64(bytes([sig[0] ^ 1]) + sig[1:])}",
        "moved-position": encode(moved, sig),
        "retargeted-tenant": encode(dict(payload, t="globex"), sig),
        "signed-with-another-secret": encode(payload, wrong_secret),
        "unsigned": body,
        "empty-signature": f"{body}.",
        "garbage": "not-a-cursor",
        "truncated": cursor[: len(cursor) // 2],
    }


def test_a_tampered_cursor_is_400_invalid_cursor(invoke: Invoke) -> None:
    batch(invoke, ["a", "b", "c"])
    cursor = listing(invoke, limit=1).json["meta"]["next_cursor"]
    assert listing(invoke, limit=1, cursor=cursor).status == 200
    for kind, forged in _tampered_cursors(cursor).items():
        result = invoke("GET", "/tags", query={"cursor": forged, "limit": 1})
        assert result.status == 400, kind
        assert_error(result, 400, "invalid_cursor", "cursor")


def test_another_tenants_cursor_is_400(invoke: Invoke, other_tenant: Any) -> None:
    batch(invoke, ["a", "b", "c"])
    invoke("POST", "/tags/batch", body={"tags": ["a", "b", "c"]}, tenant=other_tenant)
    cursor = listing(invoke, limit=1).json["meta"]["next_cursor"]
    result = invoke("GET", "/tags", query={"cursor": cursor, "limit": 1}, tenant=other_tenant)
    assert_error(result, 400, "invalid_cursor", "cursor")
    assert invoke("GET", "/tags", query={"cursor": cursor, "limit": 1}).status == 200


def test_a_cursor_from_another_query_is_400(invoke: Invoke) -> None:
    batch(invoke, ["a", "b", "c"])
    cursor = listing(invoke, limit=1, sort="name").json["meta"]["next_cursor"]
    for other in ({"sort": "-name"}, {"sort": "created_at"}, {"q": "a"}, {"type": "goal"}, {"group_id": "null"},
                  {"applies_to": "comment"}):
        result = invoke("GET", "/tags", query={"cursor": cursor, **other})
        assert result.status == 400, other
        assert_error(result, 400, "invalid_cursor", "cursor")


# --- listing: search and filters ----------------------------------------------------------------------------------

SEARCH_NAMES = ["Hot Lead", "hotel", "HOTTEST", "Shot", "Cold", "Straße", "Hot-Dog"]
SEARCHES = {
    "hot": ["Hot Lead", "Hot-Dog", "hotel", "HOTTEST"],
    "HOT": ["Hot Lead", "Hot-Dog", "hotel", "HOTTEST"],
    "  hot   l": ["Hot Lead"],
    "hote": ["hotel"],
    "ot": [],
    "STRASS": ["Straße"],
    "Hot Lead Extra": [],
}


@pytest.mark.parametrize("sort", ["name", "-created_at"])
def test_q_is_a_case_insensitive_name_prefix(invoke: Invoke, sort: str) -> None:
    made = create_in_order(invoke, SEARCH_NAMES)
    newest_first = [t["name"] for t in reversed(made)]
    for q, expected in SEARCHES.items():
        page = listing(invoke, q=q, sort=sort)
        wanted = expected if sort == "name" else [n for n in newest_first if n in expected]
        assert names_of(page) == wanted, q


def test_type_filter_accepts_names_and_aliases(invoke: Invoke) -> None:
    batch(invoke, [{"name": "G1", "type": "goal"}, {"name": "M1", "type": "miss"}, "T1",
                   {"name": "G2", "type": 2}, {"name": "T2", "type": 1}])
    assert names_of(listing(invoke, type="goal")) == ["G1", "G2"]
    assert names_of(listing(invoke, type="2")) == ["G1", "G2"]
    assert names_of(listing(invoke, type="tag")) == ["T1", "T2"]
    assert names_of(listing(invoke, type="3")) == ["M1"]
    assert names_of(listing(invoke, type="goal", sort="-created_at")) == ["G2", "G1"]


def test_group_filter_and_free_standing_filter(invoke: Invoke) -> None:
    sales, support = new_group(invoke, "Sales")["id"], new_group(invoke, "Support")["id"]
    batch(invoke, [{"name": "S1", "group_id": sales}, {"name": "S2", "group_id": sales},
                   {"name": "H1", "group_id": support}, "Free1", {"name": "Free2", "group_id": 0}])
    assert names_of(listing(invoke, group_id=sales)) == ["S1", "S2"]
    assert names_of(listing(invoke, group_id=support)) == ["H1"]
    assert names_of(listing(invoke, group_id="null")) == ["Free1", "Free2"]
    assert names_of(listing(invoke, group_id=sales, sort="-created_at")) == ["S2", "S1"]
    assert names_of(listing(invoke, group_id="null", sort="-name")) == ["Free2", "Free1"]
    assert listing(invoke, group_id=MISSING_ID).data == []


def test_applies_to_filter(invoke: Invoke) -> None:
    batch(invoke, [{"name": "Conv only", "applies_to": {"customer": False, "comment": False}},
                   {"name": "No customer", "applies_to": {"customer": False}}, "Everywhere"])
    assert names_of(listing(invoke, applies_to="customer")) == ["Everywhere"]
    assert names_of(listing(invoke, applies_to="comment")) == ["Everywhere", "No customer"]
    assert names_of(listing(invoke, applies_to="conversation")) == ["Conv only", "Everywhere", "No customer"]
    assert names_of(listing(invoke, applies_to="comment", sort="-name")) == ["No customer", "Everywhere"]


def test_filters_combine(invoke: Invoke) -> None:
    group = new_group(invoke, "Mixed")["id"]
    batch(invoke, [{"name": "Goal In", "type": "goal", "group_id": group},
                   {"name": "Tag In", "group_id": group},
                   {"name": "Goal Out", "type": "goal"},
                   {"name": "Goal In Narrow", "type": "goal", "group_id": group, "applies_to": {"comment": False}}])
    for sort in ("name", "created_at"):
        assert names_of(listing(invoke, type="goal", group_id=group, sort=sort)) == ["Goal In", "Goal In Narrow"]
        assert names_of(listing(invoke, type="goal", group_id=group, applies_to="comment", sort=sort)) == ["Goal In"]
        assert names_of(listing(invoke, q="goal", group_id="null", sort=sort)) == ["Goal Out"]


def test_cursor_pagination_with_filters_visits_every_match_once(invoke: Invoke) -> None:
    batch(invoke, [{"name": f"f{i:02d}", "type": "goal" if i % 3 else "tag",
                    "applies_to": {"customer": i % 2 == 0}} for i in range(14)] + ["other", "zzz"])
    for query in ({"type": "goal"}, {"q": "f"}, {"applies_to": "customer"}, {"type": "goal", "sort": "-created_at"},
                  {"q": "F", "sort": "created_at"}, {"q": "f", "type": "goal", "applies_to": "customer"}):
        everything = names_of(listing(invoke, limit=100, **query))
        assert everything, query
        assert walk(invoke, 3, **query)[0] == everything, query


# --- listing: meta and links -----------------------------------------------------------------------------------

def test_meta_and_links_for_page_numbers(invoke: Invoke) -> None:
    batch(invoke, ["A", "B", "C", "D", "E"])
    pages = [listing(invoke, limit=2, page=p) for p in (1, 2, 3)]
    assert [names_of(p) for p in pages] == [["A", "B"], ["C", "D"], ["E"]]
    for page, (current, first, last) in zip(pages, [(1, 1, 2), (2, 3, 4), (3, 5, 5)], strict=True):
        path = client_path(page)
        assert path.endswith("/tags")
        meta = page.json["meta"]
        assert set(meta) == {"current_page", "from", "to", "per_page", "last_page", "total", "path", "next_cursor"}
        assert (meta["current_page"], meta["from"], meta["to"]) == (current, first, last)
        assert (meta["per_page"], meta["last_page"], meta["total"], meta["path"]) == (2, 3, 5, path)
        links = page.json["links"]
        assert set(links) == {"first", "last", "prev", "next"}
        assert link_parts(links["first"]) == (path, {"sort": "name", "limit": "2", "page": "1"})
        assert link_parts(links["last"]) == (path, {"sort": "name", "limit": "2", "page": "3"})
        assert link_parts(links["prev"]) == (
            (path, {"sort": "name", "limit": "2", "page": str(current - 1)}) if current > 1 else None)
        assert link_parts(links["next"]) == (
            (path, {"sort": "name", "limit": "2", "page": str(current + 1)}) if current < 3 else None)
        assert (meta["next_cursor"] is None) == (current == 3)


def test_meta_and_links_for_the_first_page_and_cursor_pages(invoke: Invoke) -> None:
    batch(invoke, ["A", "B", "C", "D", "E"])
    first = listing(invoke, limit=2)
    path = client_path(first)
    meta = first.json["meta"]
    assert {k: v for k, v in meta.items() if k != "next_cursor"} == {
        "current_page": 1, "from": 1, "to": 2, "per_page": 2, "last_page": 3, "total": 5, "path": path}
    cursor = meta["next_cursor"]
    assert isinstance(cursor, str) and cursor
    second = listing(invoke, limit=2, cursor=cursor)
    assert names_of(second) == ["C", "D"]
    meta2, links2 = second.json["meta"], second.json["links"]
    assert (meta2["per_page"], meta2["total"], meta2["last_page"], meta2["path"]) == (2, 5, 3, path)
    assert meta2["next_cursor"] and meta2["next_cursor"] != cursor
    assert link_parts(links2["next"]) == (path, {"sort": "name", "limit": "2", "cursor": meta2["next_cursor"]})
    assert link_parts(links2["first"]) == (path, {"sort": "name", "limit": "2", "page": "1"})
    assert link_parts(links2["last"]) == (path, {"sort": "name", "limit": "2", "page": "3"})
    third = listing(invoke, limit=2, cursor=meta2["next_cursor"])
    assert names_of(third) == ["E"]
    assert (third.json["meta"]["next_cursor"], third.json["links"]["next"]) == (None, None)


def test_links_resolve_to_the_url_the_client_called(invoke: Invoke) -> None:
    batch(invoke, ["A", "B", "C"])
    page = listing(invoke, limit=1, page=2)
    context = page.event["requestContext"]
    called = f"https://{context['domainName']}{context['path']}?limit=1&page=2"
    for name in ("first", "last", "prev", "next"):
        assert urlsplit(urljoin(called, page.json["links"][name])).path == context["path"], name


def test_links_can_be_followed(invoke: Invoke) -> None:
    batch(invoke, [f"N{i}" for i in range(5)])
    page = listing(invoke, limit=2, sort="-name")
    stage = client_path(page).removesuffix("/tags")
    seen = names_of(page)
    while page.json["links"]["next"]:
        page = invoke("GET", page.json["links"]["next"].removeprefix(stage))
        assert page.status == 200, page.json
        seen += names_of(page)
    assert seen == ["N4", "N3", "N2", "N1", "N0"]
    last = invoke("GET", listing(invoke, limit=2, sort="-name").json["links"]["last"].removeprefix(stage))
    assert names_of(last) == ["N0"]


def test_links_repeat_the_filters(invoke: Invoke) -> None:
    batch(invoke, [{"name": f"g{i}", "type": "goal"} for i in range(3)] + ["h"])
    page = listing(invoke, limit=1, type="2", q="G", sort="-name")
    assert names_of(page) == ["g2"]
    expected = {"type": "goal", "q": "G", "sort": "-name", "limit": "1"}
    assert link_parts(page.json["links"]["next"]) == (client_path(page), {**expected, "page": "2"})
    follow = listing(invoke, **dict(parse_qsl(urlsplit(page.json["links"]["next"]).query)))
    assert names_of(follow) == ["g1"]


def test_total_and_last_page_are_null_with_any_filter(invoke: Invoke) -> None:
    batch(invoke, ["a1", "a2", "a3"])
    for query in ({"q": "a"}, {"type": "tag"}, {"group_id": "null"}, {"applies_to": "comment"}):
        page = listing(invoke, limit=2, **query)
        meta, links = page.json["meta"], page.json["links"]
        assert names_of(page) == ["a1", "a2"], query
        assert (meta["total"], meta["last_page"], links["last"]) == (None, None, None), query
        assert (meta["current_page"], meta["from"], meta["to"], meta["per_page"]) == (1, 1, 2, 2), query
        assert link_parts(links["next"]) == (client_path(page), {**query, "sort": "name", "limit": "2", "page": "2"})


def test_total_is_exact_without_filters(invoke: Invoke) -> None:
    made = batch(invoke, [f"c{i}" for i in range(7)])["inserted"]
    new_tag(invoke, "single")
    for tag in made[:3]:
        invoke("DELETE", f"/tags/{tag['id']}")
    assert invoke("POST", "/tags", body={"name": "c5"}).status == 409  # taken: no change
    batch(invoke, ["c6", "C4"])  # existing only: no change
    meta = listing(invoke, limit=3).json["meta"]
    assert (meta["total"], meta["last_page"]) == (5, 2)
    assert listing(invoke, limit=3, sort="-created_at").json["meta"]["total"] == 5


def test_an_empty_list(invoke: Invoke) -> None:
    page = listing(invoke)
    assert page.json["data"] == []
    meta = page.json["meta"]
    assert (meta["total"], meta["from"], meta["to"], meta["next_cursor"], meta["current_page"]) == (0, None, None,
                                                                                                  None, 1)
    assert meta["last_page"] == 1
    assert (page.json["links"]["next"], page.json["links"]["prev"]) == (None, None)


# --- auth and tenancy --------------------------------------------------------------------------------------------

ROUTES = [
    ("POST", "/tags", {"name": "New"}), ("POST", "/tags/batch", {"tags": ["New"]}), ("GET", "/tags", None),
    ("GET", "/tags/{id}", None), ("PUT", "/tags/{id}", {"name": "New"}), ("PATCH", "/tags/{id}", {"name": "New"}),
    ("DELETE", "/tags/{id}", None),
]
WRITES = [r for r in ROUTES if r[0] != "GET"]


def test_no_authorizer_context_is_401_on_every_route(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Existing")
    for method, path, body in ROUTES:
        result = invoke(method, path.replace("{id}", tag["id"]), body=body, principal=None)
        assert result.status == 401, (method, path)
        assert_error(result, 401, "unauthenticated")
    for context in ({"tenant": "acme", "role": "admin", "key_id": "k"}, {"tenant": "", "role": "write", "key_id": "k"},
                    {"tenant": "acme", "role": "write"}):
        assert_error(invoke("POST", "/tags", body={"name": "New"}, principal=context), 401, "unauthenticated")
    assert get_tag(invoke, tag["id"]) == tag
    assert listing(invoke).json["meta"]["total"] == 1


def test_a_read_key_cannot_write(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Existing")
    for method, path, body in WRITES:
        result = invoke(method, path.replace("{id}", tag["id"]), body=body, role="read")
        assert result.status == 403, (method, path)
        assert_error(result, 403, "forbidden")
    assert get_tag(invoke, tag["id"]) == tag
    assert listing(invoke).json["meta"]["total"] == 1


def test_a_read_key_can_read(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Readable")
    assert invoke("GET", f"/tags/{tag['id']}", role="read").data == tag
    assert invoke("GET", "/tags", role="read", query={"q": "read"}).data == [tag]


def test_the_real_authorizer_lets_keys_in_by_role(invoke: Invoke, tenant: Any) -> None:
    made = invoke("POST", "/tags", body={"name": "Via Key"}, key=tenant.write_key)
    assert made.status == 201, made.json
    assert made.event["requestContext"]["authorizer"]["tenant"] == tenant.id
    assert invoke("GET", f"/tags/{made.data['id']}", key=tenant.read_key).data == made.data
    assert invoke("GET", "/tags", key=tenant.read_key).status == 200
    for method, path, body in WRITES:
        refused = invoke(method, path.replace("{id}", made.data["id"]), body=body, key=tenant.read_key)
        assert refused.status == 403, (method, path)
        assert_error(refused, 403, "forbidden")
    assert get_tag(invoke, made.data["id"]) == made.data


def test_the_real_authorizer_refuses_bad_keys_with_401(invoke: Invoke, tenant: Any) -> None:
    key = tenant.write_key
    for authorization in ("Bearer tk_" + "0" * 26 + "_" + "A" * 43,  # well formed, unknown
                          f"Bearer {key[:-1]}{'A' if key[-1] != 'A' else 'B'}",  # right key id, wrong secret
                          "Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", key, f"Bearer {key} extra"):
        result = invoke("POST", "/tags", body={"name": "x"}, headers={"Authorization": authorization}, authorize=True)
        assert result.status == 401, authorization
        assert_error(result, 401, "unauthenticated")
        assert result.event is None  # no function ran
    assert_error(invoke("POST", "/tags", body={"name": "x"}, authorize=True), 401, "unauthenticated")  # no header
    assert listing(invoke).data == []


def test_a_revoked_key_is_401(invoke: Invoke, tenant: Any) -> None:
    assert invoke("POST", "/tags", body={"name": "Before"}, key=tenant.write_key).status == 201
    revoke_api_key(tenant.id, tenant.write_key_id)
    assert_error(invoke("POST", "/tags", body={"name": "After"}, key=tenant.write_key), 401, "unauthenticated")
    assert_error(invoke("GET", "/tags", key=tenant.write_key), 401, "unauthenticated")
    assert names_of(invoke("GET", "/tags", key=tenant.read_key)) == ["Before"]


def test_another_tenants_tag_is_404_exactly_like_an_unknown_id(invoke: Invoke, other_tenant: Any) -> None:
    theirs = invoke("POST", "/tags", body={"name": "Private"}, tenant=other_tenant).data
    for method, body in (("GET", None), ("PUT", {"name": "Hijack"}), ("PATCH", {"color": "#000000"}),
                         ("DELETE", None)):
        foreign = invoke(method, f"/tags/{theirs['id']}", body=body)
        unknown = invoke(method, f"/tags/{MISSING_ID}", body=body)
        assert_error(foreign, 404, "not_found")
        assert_error(unknown, 404, "not_found")
        assert foreign.json["errors"] == unknown.json["errors"], method
        assert foreign.json["description"] == unknown.json["description"]
        assert set(foreign.headers) == set(unknown.headers)
    assert invoke("GET", f"/tags/{theirs['id']}", tenant=other_tenant).data == theirs


def test_lists_never_show_another_tenants_tags(invoke: Invoke, other_tenant: Any) -> None:
    invoke("POST", "/tags/batch", body={"tags": ["Secret A", "Secret B", {"name": "Secret G", "type": "goal"}]},
           tenant=other_tenant)
    mine = new_tag(invoke, "Secret Mine")
    for query in ({}, {"q": "secret"}, {"sort": "-created_at"}, {"group_id": "null"}, {"applies_to": "comment"}):
        assert [t["id"] for t in listing(invoke, **query).data] == [mine["id"]], query
    assert listing(invoke, type="goal").data == []
    assert listing(invoke).json["meta"]["total"] == 1
    assert invoke("GET", "/tags", tenant=other_tenant).json["meta"]["total"] == 3


def test_batch_never_reports_another_tenants_tags_as_existing(invoke: Invoke, other_tenant: Any) -> None:
    invoke("POST", "/tags", body={"name": "Common"}, tenant=other_tenant)
    data = batch(invoke, ["Common"])
    assert [t["name"] for t in data["inserted"]] == ["Common"]
    assert data["existing"] == []


# --- every response: the request id -----------------------------------------------------------------------------

def test_every_response_carries_the_request_id(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Existing")
    cases = [*ROUTES, ("GET", f"/tags/{MISSING_ID}", None), ("POST", "/tags", {"name": ""}),
             ("GET", "/tags?limit=0", None), ("POST", "/tags", "{oops"), ("POST", "/tags", {"name": "existing"})]
    statuses = set()
    for method, path, body in cases:
        headers = JSON_HEADERS if isinstance(body, str) else None
        result = invoke(method, path.replace("{id}", tag["id"]), body=body, headers=headers)
        request_id = result.event["requestContext"]["requestId"]
        assert result.headers["X-Request-Id"] == request_id, (method, path)
        assert result.raw["headers"]["X-Request-Id"] == request_id  # set by the function itself
        statuses.add(result.status)
        if result.status >= 400:
            assert_error(result, result.status, result.json["errors"][0]["code"])
    assert statuses >= {200, 201, 400, 404, 409}


def test_a_request_id_is_generated_when_the_event_has_none(invoke: Invoke) -> None:
    from functions.get_tag.app import lambda_handler  # noqa: PLC0415

    tag = new_tag(invoke, "Existing")
    event = invoke("GET", f"/tags/{tag['id']}", raw_event=True)
    del event["requestContext"]["requestId"]
    response = lambda_handler(event, None)
    assert response["statusCode"] == 200
    assert re.fullmatch(r"[0-9a-f-]{32,36}", response["headers"]["X-Request-Id"])
