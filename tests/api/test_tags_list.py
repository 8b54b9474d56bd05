"""The tag catalogue by direct handler invocation (API Gateway REST events through the template's routes, moto in
process): GET /tags, its sorts, page numbers and cursors, search and filters, meta and links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from tests.helpers import (
    MISSING_ID,
    Invoke,
    assert_error,
    batch_create,
    create_in_order,
    list_tags,
    names_of,
    new_group,
    new_tag,
)

# --- helpers -----------------------------------------------------------------------------------------------------

def walk(invoke: Invoke, limit: int, **query: Any) -> tuple[list[str], int]:
    """Follow next_cursor from the first page to the end: the names seen and the number of pages."""
    seen: list[str] = []
    cursor = None
    for pages in range(1, 200):
        page = list_tags(invoke, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
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


# --- listing -------------------------------------------------------------------------------------------------------

def test_the_four_sorts(invoke: Invoke) -> None:
    created = ["banana", "Apple", "cherry", "apple pie", "Zed", "Date"]
    by_name_order = ["Apple", "apple pie", "banana", "cherry", "Date", "Zed"]
    create_in_order(invoke, created)
    assert names_of(list_tags(invoke)) == by_name_order
    assert names_of(list_tags(invoke, sort="name")) == by_name_order
    assert names_of(list_tags(invoke, sort="-name")) == by_name_order[::-1]
    assert names_of(list_tags(invoke, sort="created_at")) == created
    assert names_of(list_tags(invoke, sort="-created_at")) == created[::-1]


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-created_at"])
def test_cursor_pagination_visits_every_tag_once_in_order(invoke: Invoke, sort: str) -> None:
    names = [f"Tag {i:02d}" for i in range(13)]
    batch_create(invoke, names)
    everything = names_of(list_tags(invoke, sort=sort, limit=100))
    assert sorted(everything) == names
    for limit in (2, 5, 13):
        seen, pages = walk(invoke, limit, sort=sort)
        assert seen == everything, limit
        assert pages == -(-13 // limit)


def test_page_numbers_cover_the_same_tags_as_the_cursor(invoke: Invoke) -> None:
    names = [f"P{i}" for i in range(7)]
    batch_create(invoke, names)
    by_page = [n for p in (1, 2, 3) for n in names_of(list_tags(invoke, limit=3, page=p))]
    assert by_page == by_name(names) == walk(invoke, 3)[0]
    assert list_tags(invoke, limit=3, page=4).data == []


def test_the_limit_may_change_between_cursor_pages(invoke: Invoke) -> None:
    batch_create(invoke, [f"L{i}" for i in range(8)])
    first = list_tags(invoke, limit=2)
    rest = list_tags(invoke, limit=10, cursor=first.json["meta"]["next_cursor"])
    assert names_of(first) + names_of(rest) == by_name([f"L{i}" for i in range(8)])


def test_limit_defaults_to_20_and_goes_from_1_to_100(invoke: Invoke) -> None:
    batch_create(invoke, [f"D{i:02d}" for i in range(21)])
    page = list_tags(invoke)
    assert len(page.data) == 20
    assert page.json["meta"]["per_page"] == 20
    assert page.json["meta"]["next_cursor"]
    assert len(list_tags(invoke, limit=100).data) == 21
    assert len(list_tags(invoke, limit=1).data) == 1


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
    batch_create(invoke, ["a", "b", "c"])
    cursor = list_tags(invoke, limit=1).json["meta"]["next_cursor"]
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
    batch_create(invoke, ["a", "b", "c"])
    cursor = list_tags(invoke, limit=1).json["meta"]["next_cursor"]
    assert list_tags(invoke, limit=1, cursor=cursor).status == 200
    for kind, forged in _tampered_cursors(cursor).items():
        result = invoke("GET", "/tags", query={"cursor": forged, "limit": 1})
        assert result.status == 400, kind
        assert_error(result, 400, "invalid_cursor", "cursor")


def test_another_tenants_cursor_is_400(invoke: Invoke, other_tenant: Any) -> None:
    batch_create(invoke, ["a", "b", "c"])
    invoke("POST", "/tags/batch", body={"tags": ["a", "b", "c"]}, tenant=other_tenant)
    cursor = list_tags(invoke, limit=1).json["meta"]["next_cursor"]
    result = invoke("GET", "/tags", query={"cursor": cursor, "limit": 1}, tenant=other_tenant)
    assert_error(result, 400, "invalid_cursor", "cursor")
    assert invoke("GET", "/tags", query={"cursor": cursor, "limit": 1}).status == 200


def test_a_cursor_from_another_query_is_400(invoke: Invoke) -> None:
    batch_create(invoke, ["a", "b", "c"])
    cursor = list_tags(invoke, limit=1, sort="name").json["meta"]["next_cursor"]
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
        page = list_tags(invoke, q=q, sort=sort)
        wanted = expected if sort == "name" else [n for n in newest_first if n in expected]
        assert names_of(page) == wanted, q


def test_type_filter_accepts_names_and_aliases(invoke: Invoke) -> None:
    batch_create(invoke, [{"name": "G1", "type": "goal"}, {"name": "M1", "type": "miss"}, "T1",
                   {"name": "G2", "type": 2}, {"name": "T2", "type": 1}])
    assert names_of(list_tags(invoke, type="goal")) == ["G1", "G2"]
    assert names_of(list_tags(invoke, type="2")) == ["G1", "G2"]
    assert names_of(list_tags(invoke, type="tag")) == ["T1", "T2"]
    assert names_of(list_tags(invoke, type="3")) == ["M1"]
    assert names_of(list_tags(invoke, type="goal", sort="-created_at")) == ["G2", "G1"]


def test_group_filter_and_free_standing_filter(invoke: Invoke) -> None:
    sales, support = new_group(invoke, "Sales")["id"], new_group(invoke, "Support")["id"]
    batch_create(invoke, [{"name": "S1", "group_id": sales}, {"name": "S2", "group_id": sales},
                   {"name": "H1", "group_id": support}, "Free1", {"name": "Free2", "group_id": 0}])
    assert names_of(list_tags(invoke, group_id=sales)) == ["S1", "S2"]
    assert names_of(list_tags(invoke, group_id=support)) == ["H1"]
    for free_standing in ("none", "null", "0"):  # `none` documented; `null` and `0` the older spellings
        assert names_of(list_tags(invoke, group_id=free_standing)) == ["Free1", "Free2"], free_standing
    assert names_of(list_tags(invoke, group_id=sales, sort="-created_at")) == ["S2", "S1"]
    assert names_of(list_tags(invoke, group_id="null", sort="-name")) == ["Free2", "Free1"]
    assert list_tags(invoke, group_id=MISSING_ID).data == []


def test_applies_to_filter(invoke: Invoke) -> None:
    batch_create(invoke, [{"name": "Conv only", "applies_to": {"customer": False, "comment": False}},
                   {"name": "No customer", "applies_to": {"customer": False}}, "Everywhere"])
    assert names_of(list_tags(invoke, applies_to="customer")) == ["Everywhere"]
    assert names_of(list_tags(invoke, applies_to="comment")) == ["Everywhere", "No customer"]
    assert names_of(list_tags(invoke, applies_to="conversation")) == ["Conv only", "Everywhere", "No customer"]
    assert names_of(list_tags(invoke, applies_to="comment", sort="-name")) == ["No customer", "Everywhere"]


def test_filters_combine(invoke: Invoke) -> None:
    group = new_group(invoke, "Mixed")["id"]
    batch_create(invoke, [{"name": "Goal In", "type": "goal", "group_id": group},
                   {"name": "Tag In", "group_id": group},
                   {"name": "Goal Out", "type": "goal"},
                   {"name": "Goal In Narrow", "type": "goal", "group_id": group, "applies_to": {"comment": False}}])
    for sort in ("name", "created_at"):
        assert names_of(list_tags(invoke, type="goal", group_id=group, sort=sort)) == ["Goal In", "Goal In Narrow"]
        assert names_of(list_tags(invoke, type="goal", group_id=group, applies_to="comment", sort=sort)) == ["Goal In"]
        assert names_of(list_tags(invoke, q="goal", group_id="null", sort=sort)) == ["Goal Out"]


def test_cursor_pagination_with_filters_visits_every_match_once(invoke: Invoke) -> None:
    batch_create(invoke, [{"name": f"f{i:02d}", "type": "goal" if i % 3 else "tag",
                    "applies_to": {"customer": i % 2 == 0}} for i in range(14)] + ["other", "zzz"])
    for query in ({"type": "goal"}, {"q": "f"}, {"applies_to": "customer"}, {"type": "goal", "sort": "-created_at"},
                  {"q": "F", "sort": "created_at"}, {"q": "f", "type": "goal", "applies_to": "customer"}):
        everything = names_of(list_tags(invoke, limit=100, **query))
        assert everything, query
        assert walk(invoke, 3, **query)[0] == everything, query


# --- listing: meta and links -----------------------------------------------------------------------------------

def test_meta_and_links_for_page_numbers(invoke: Invoke) -> None:
    batch_create(invoke, ["A", "B", "C", "D", "E"])
    pages = [list_tags(invoke, limit=2, page=p) for p in (1, 2, 3)]
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
    batch_create(invoke, ["A", "B", "C", "D", "E"])
    first = list_tags(invoke, limit=2)
    path = client_path(first)
    meta = first.json["meta"]
    assert {k: v for k, v in meta.items() if k != "next_cursor"} == {
        "current_page": 1, "from": 1, "to": 2, "per_page": 2, "last_page": 3, "total": 5, "path": path}
    cursor = meta["next_cursor"]
    assert isinstance(cursor, str) and cursor
    second = list_tags(invoke, limit=2, cursor=cursor)
    assert names_of(second) == ["C", "D"]
    meta2, links2 = second.json["meta"], second.json["links"]
    assert (meta2["per_page"], meta2["total"], meta2["last_page"], meta2["path"]) == (2, 5, 3, path)
    assert meta2["next_cursor"] and meta2["next_cursor"] != cursor
    assert link_parts(links2["next"]) == (path, {"sort": "name", "limit": "2", "cursor": meta2["next_cursor"]})
    assert link_parts(links2["first"]) == (path, {"sort": "name", "limit": "2", "page": "1"})
    assert link_parts(links2["last"]) == (path, {"sort": "name", "limit": "2", "page": "3"})
    third = list_tags(invoke, limit=2, cursor=meta2["next_cursor"])
    assert names_of(third) == ["E"]
    assert (third.json["meta"]["next_cursor"], third.json["links"]["next"]) == (None, None)


def test_links_resolve_to_the_url_the_client_called(invoke: Invoke) -> None:
    batch_create(invoke, ["A", "B", "C"])
    page = list_tags(invoke, limit=1, page=2)
    context = page.event["requestContext"]
    called = f"https://{context['domainName']}{context['path']}?limit=1&page=2"
    for name in ("first", "last", "prev", "next"):
        assert urlsplit(urljoin(called, page.json["links"][name])).path == context["path"], name


def test_links_can_be_followed(invoke: Invoke) -> None:
    batch_create(invoke, [f"N{i}" for i in range(5)])
    page = list_tags(invoke, limit=2, sort="-name")
    stage = client_path(page).removesuffix("/tags")
    seen = names_of(page)
    while page.json["links"]["next"]:
        page = invoke("GET", page.json["links"]["next"].removeprefix(stage))
        assert page.status == 200, page.json
        seen += names_of(page)
    assert seen == ["N4", "N3", "N2", "N1", "N0"]
    last = invoke("GET", list_tags(invoke, limit=2, sort="-name").json["links"]["last"].removeprefix(stage))
    assert names_of(last) == ["N0"]


def test_links_repeat_the_filters(invoke: Invoke) -> None:
    batch_create(invoke, [{"name": f"g{i}", "type": "goal"} for i in range(3)] + ["h"])
    page = list_tags(invoke, limit=1, type="2", q="G", sort="-name")
    assert names_of(page) == ["g2"]
    expected = {"type": "goal", "q": "G", "sort": "-name", "limit": "1"}
    assert link_parts(page.json["links"]["next"]) == (client_path(page), {**expected, "page": "2"})
    follow = list_tags(invoke, **dict(parse_qsl(urlsplit(page.json["links"]["next"]).query)))
    assert names_of(follow) == ["g1"]


def test_total_and_last_page_are_null_with_any_filter(invoke: Invoke) -> None:
    batch_create(invoke, ["a1", "a2", "a3"])
    for query in ({"q": "a"}, {"type": "tag"}, {"group_id": "null"}, {"applies_to": "comment"}):
        page = list_tags(invoke, limit=2, **query)
        meta, links = page.json["meta"], page.json["links"]
        assert names_of(page) == ["a1", "a2"], query
        assert (meta["total"], meta["last_page"], links["last"]) == (None, None, None), query
        assert (meta["current_page"], meta["from"], meta["to"], meta["per_page"]) == (1, 1, 2, 2), query
        assert link_parts(links["next"]) == (client_path(page), {**query, "sort": "name", "limit": "2", "page": "2"})


def test_total_is_exact_without_filters(invoke: Invoke) -> None:
    made = batch_create(invoke, [f"c{i}" for i in range(7)])["inserted"]
    new_tag(invoke, "single")
    for tag in made[:3]:
        invoke("DELETE", f"/tags/{tag['id']}")
    assert invoke("POST", "/tags", body={"name": "c5"}).status == 409  # taken: no change
    batch_create(invoke, ["c6", "C4"])  # existing only: no change
    meta = list_tags(invoke, limit=3).json["meta"]
    assert (meta["total"], meta["last_page"]) == (5, 2)
    assert list_tags(invoke, limit=3, sort="-created_at").json["meta"]["total"] == 5


def test_an_empty_list(invoke: Invoke) -> None:
    page = list_tags(invoke)
    assert page.json["data"] == []
    meta = page.json["meta"]
    assert (meta["total"], meta["from"], meta["to"], meta["next_cursor"], meta["current_page"]) == (0, None, None,
                                                                                                  None, 1)
    assert meta["last_page"] == 1
    assert (page.json["links"]["next"], page.json["links"]["prev"]) == (None, None)
