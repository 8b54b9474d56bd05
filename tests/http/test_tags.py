"""The tag catalogue end to end over real HTTP: `tags-local` (gateway emulation, authorizer, functions, moto) and
a client that only sees status, headers and bytes. Each test works in a fresh tenant of the session's server.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from urllib.parse import urljoin

from tests.helpers import MISSING_ID, assert_error


def test_http_tag_lifecycle(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key

    def call(method: str, path: str, **kwargs: Any) -> Any:
        result = local_api.request(method, path, key=key, **kwargs)
        assert result.headers.get("X-Request-Id"), (method, path)
        return result

    created = call("POST", "/tags", json={"name": "  Hot   Lead ", "color": "#FF8800", "type": 2})
    assert created.status == 201, created.json
    assert created.headers["Content-Type"].startswith("application/json")
    tag = created.json["data"]
    assert (tag["name"], tag["name_slug"], tag["color"], tag["type"], tag["version"]) == (
        "Hot Lead", "hot-lead", "#ff8800", "goal", 1)
    assert tag["account"] == {"id": http_tenant.id}

    fetched = call("GET", f"/tags/{tag['id']}")
    assert fetched.status == 200
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.json == {"data": tag}

    patched = call("PATCH", f"/tags/{tag['id']}", json={"description": "Inbound"},
                   headers={"If-Match": fetched.headers["ETag"]})
    assert patched.status == 200, patched.json
    assert (patched.json["data"]["version"], patched.json["data"]["description"]) == (2, "Inbound")
    assert patched.headers["ETag"] == '"2"'
    stale = call("PATCH", f"/tags/{tag['id']}", json={"description": "Lost"}, headers={"If-Match": '"1"'})
    assert_error(stale, 412, "precondition_failed")
    assert call("GET", f"/tags/{tag['id']}").json["data"]["description"] == "Inbound"

    made = call("POST", "/tags/batch", json={"tags": ["Alpha", {"name": "Beta", "type": "miss"}, "hot lead", ""]})
    assert made.status == 200, made.json
    data = made.json["data"]
    assert [t["name"] for t in data["inserted"]] == ["Alpha", "Beta"]
    assert data["existing"] == [{"id": tag["id"], "name": data["existing"][0]["name"]}]
    assert [e["index"] for e in data["errors"]] == [3]

    first = call("GET", "/tags", query={"limit": 2, "page": 1})
    assert [t["name"] for t in first.json["data"]] == ["Alpha", "Beta"]
    assert (first.json["meta"]["total"], first.json["meta"]["last_page"]) == (3, 2)
    second = call("GET", "/tags", query={"limit": 2, "page": 2})
    assert [t["name"] for t in second.json["data"]] == ["Hot Lead"]
    by_cursor = call("GET", "/tags", query={"limit": 2, "cursor": first.json["meta"]["next_cursor"]})
    assert by_cursor.json["data"] == second.json["data"]
    assert by_cursor.json["meta"]["next_cursor"] is None
    assert [t["name"] for t in call("GET", "/tags", query={"type": "goal"}).json["data"]] == ["Hot Lead"]

    deleted = call("DELETE", f"/tags/{tag['id']}")
    assert deleted.status == 200
    assert deleted.json == {"data": {"id": tag["id"], "object": "tag", "deleted": True}}
    assert_error(call("GET", f"/tags/{tag['id']}"), 404, "not_found")
    assert [t["name"] for t in call("GET", "/tags").json["data"]] == ["Alpha", "Beta"]
    assert call("POST", "/tags", json={"name": "HOT LEAD"}).status == 201


def test_http_list_links_can_be_followed(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key
    local_api.request("POST", "/tags/batch", json={"tags": ["a", "b", "c"]}, key=key)
    page = local_api.request("GET", "/tags", query={"limit": 1}, key=key)
    seen = [t["name"] for t in page.json["data"]]
    while page.json["links"]["next"]:
        page = local_api.request("GET", urljoin(local_api.url + "/tags", page.json["links"]["next"])
                                 .removeprefix(local_api.url), key=key)
        assert page.status == 200, page.json
        seen += [t["name"] for t in page.json["data"]]
    assert seen == ["a", "b", "c"]


def test_http_auth(local_api: Any, http_tenant: Any) -> None:
    missing = local_api.request("GET", "/tags", key=None)
    assert_error(missing, 401, "unauthenticated")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    for bad in ("tk_" + "0" * 26 + "_" + "A" * 43, "not-a-key"):
        assert_error(local_api.request("GET", "/tags", key=bad), 401, "unauthenticated")
    assert_error(local_api.request("GET", "/tags", key=None, headers={"Authorization": "Basic eDp5"}), 401,
                 "unauthenticated")

    read = http_tenant.read_key
    assert local_api.request("GET", "/tags", key=read).status == 200
    assert_error(local_api.request("POST", "/tags", json={"name": "Nope"}, key=read), 403, "forbidden")
    assert local_api.request("GET", "/tags", key=read).json["data"] == []

    assert local_api.request("POST", "/tags", json={"name": "Yes"}, key=http_tenant.write_key).status == 201
    local_api.revoke_key(http_tenant.id, http_tenant.write_key_id)
    assert_error(local_api.request("POST", "/tags", json={"name": "After"}, key=http_tenant.write_key), 401,
                 "unauthenticated")
    assert [t["name"] for t in local_api.request("GET", "/tags", key=read).json["data"]] == ["Yes"]


def test_http_unknown_route_is_404_and_wrong_method_is_405(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key
    for path in ("/nope", "/tags/x/y/z", "/tag"):
        assert_error(local_api.request("GET", path, key=key), 404, "not_found")
    wrong = local_api.request("DELETE", "/tags", key=key)
    assert_error(wrong, 405, "method_not_allowed")
    assert {m.strip() for m in wrong.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert_error(local_api.request("POST", f"/tags/{MISSING_ID}", json={"name": "x"}, key=key), 405,
                 "method_not_allowed")


def test_http_another_tenants_id_is_404_like_an_unknown_one(local_api: Any, http_tenant: Any) -> None:
    other = local_api.new_tenant()
    theirs = local_api.request("POST", "/tags", json={"name": "Private"}, key=other.write_key).json["data"]
    key = http_tenant.write_key
    for method, body in (("GET", None), ("PATCH", {"name": "Mine now"}), ("PUT", {"name": "Mine now"}),
                         ("DELETE", None)):
        kwargs = {"json": body} if body is not None else {}
        foreign = local_api.request(method, f"/tags/{theirs['id']}", key=key, **kwargs)
        unknown = local_api.request(method, f"/tags/{MISSING_ID}", key=key, **kwargs)
        assert_error(foreign, 404, "not_found")
        assert foreign.json["errors"] == unknown.json["errors"]
    assert local_api.request("GET", "/tags", key=key).json["data"] == []
    assert local_api.request("GET", f"/tags/{theirs['id']}", key=other.write_key).json["data"] == theirs


def test_http_client_errors_come_in_the_envelope(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key
    bad_json = local_api.request("POST", "/tags", body="{nope", headers={"Content-Type": "application/json"}, key=key)
    assert_error(bad_json, 400, "invalid_json")
    too_big = local_api.request("POST", "/tags", json={"name": "x", "description": "d" * (64 * 1024)}, key=key)
    assert_error(too_big, 413, "payload_too_large")
    not_json = local_api.request("POST", "/tags", body='{"name": "x"}', headers={"Content-Type": "text/plain"},
                                 key=key)
    assert_error(not_json, 415, "unsupported_media_type")
    assert_error(local_api.request("GET", "/tags", query={"limit": 0}, key=key), 400, "out_of_range")
    assert_error(local_api.request("GET", "/tags", query={"cursor": "forged"}, key=key), 400, "invalid_cursor")
    local_api.request("POST", "/tags", json={"name": "Taken"}, key=key)
    assert "existing_id" in assert_error(local_api.request("POST", "/tags", json={"name": "TAKEN"}, key=key), 409,
                                         "tag_exists")
    assert local_api.request("GET", "/tags", key=key).json["meta"]["total"] == 1


UNICODE_NAMES = ["Café Crème", "東京 タワー", "🚀 Launch", "👩\u200d👩\u200d👧 Family", "Привет", "Ωmega", "नमस्ते"]


def test_http_unicode_names_and_emoji_round_trip(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key
    made = {}
    for name in UNICODE_NAMES:
        status, headers, raw = local_api.request_raw("POST", "/tags", json={"name": name}, key=key)
        assert status == 201, raw
        assert "charset" not in headers["Content-Type"] or "utf-8" in headers["Content-Type"].lower()
        tag = json.loads(raw.decode("utf-8"))["data"]
        assert tag["name"] == name
        made[name] = tag
    decomposed = local_api.request("POST", "/tags", json={"name": "Cafe\u0301 Noir"}, key=key).json["data"]
    assert decomposed["name"] == unicodedata.normalize("NFC", "Cafe\u0301 Noir")
    for tag in made.values():
        assert local_api.request("GET", f"/tags/{tag['id']}", key=key).json["data"] == tag
    listed = local_api.request("GET", "/tags", query={"limit": 100}, key=key).json["data"]
    assert {t["name"] for t in listed} == {*UNICODE_NAMES, decomposed["name"]}
    assert [t["name"] for t in local_api.request("GET", "/tags", query={"q": "東京"}, key=key).json["data"]] == [
        "東京 タワー"]
    assert [t["name"] for t in local_api.request("GET", "/tags", query={"q": "CAFÉ"}, key=key).json["data"]] == [
        "Café Crème", decomposed["name"]]
    assert [t["name"] for t in local_api.request("GET", "/tags", query={"q": "🚀"}, key=key).json["data"]] == [
        "🚀 Launch"]
    assert made["東京 タワー"]["name_slug"] == "東京-タワー"
    assert made["Café Crème"]["name_slug"] == "cafe-creme"
