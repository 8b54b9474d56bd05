"""Hostile input over real HTTP to `tags-local`: the same refusals as tests/api/test_hostile_input.py (status, code,
error envelope), and the tenant's part of the local API's table is left exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.helpers import JSON_HEADERS, assert_error, oversized_json, scan


def _tenant_items(local_api: Any, tenant_id: str) -> list[dict[str, Any]]:
    """The HTTP tenant's part of the local API's table (other tests' tenants are busy there too)."""
    return [i for i in scan(local_api.table_name, local_api.dynamodb_endpoint)
            if i["PK"]["S"] == f"T#{tenant_id}" or i["PK"]["S"].startswith(f"T#{tenant_id}#")
            or i.get("tenant", {}).get("S") == tenant_id]


@dataclass
class HttpCase:
    method: str
    path: str
    status: int
    code: str
    key: str = "write"  # "write", "none", or a literal Authorization header value
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


HTTP_CASES = [
    pytest.param(HttpCase("GET", "/tags", 401, "unauthenticated", key="none"), id="http-no-key"),
    pytest.param(HttpCase("POST", "/tags", 401, "unauthenticated", key="Basic dXNlcjpwYXNz", body=b'{"name":"x"}'),
                 id="http-basic"),
    pytest.param(HttpCase("POST", "/tags", 400, "invalid_json", body=b'{"name": "x",', headers=JSON_HEADERS),
                 id="http-malformed-json"),
    pytest.param(HttpCase("POST", "/tags", 413, "payload_too_large", body=oversized_json({"name": "x"}).encode(),
                          headers=JSON_HEADERS), id="http-oversized"),
    pytest.param(HttpCase("POST", "/tags", 415, "unsupported_media_type", body=b"name=x",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}), id="http-form"),
    pytest.param(HttpCase("DELETE", "/tags/..%2F..%2F{tag}", 404, "not_found"), id="http-traversal"),
    pytest.param(HttpCase("DELETE", "/tags/{tag}%23TAG", 404, "not_found"), id="http-hash-in-id"),
    pytest.param(HttpCase("POST", "/conversations/c-1%23SET/tags", 400, "invalid_value", body=b'{"tags":["x"]}',
                          headers=JSON_HEADERS), id="http-object-id-hash"),
    pytest.param(HttpCase("GET", "/tags?limit=-1", 400, "out_of_range"), id="http-limit-negative"),
    pytest.param(HttpCase("GET", "/tags?cursor=eyJ0IjoiYWNtZSJ9.AAAA", 400, "invalid_cursor"), id="http-cursor"),
    pytest.param(HttpCase("PATCH", "/tags/{tag}", 400, "invalid_header", body=b'{"name":"y"}',
                          headers={**JSON_HEADERS, "If-Match": "v1"}), id="http-if-match"),
    pytest.param(HttpCase("DELETE", "/tags/{tag}", 401, "unauthenticated", key="revoked"), id="http-revoked"),
]


@pytest.mark.parametrize("case", HTTP_CASES)
def test_hostile_request_over_http(case: HttpCase, local_api: Any, http_tenant: Any) -> None:
    made = local_api.request("POST", "/tags", json={"name": "Existing"}, key=http_tenant.write_key)
    assert made.status == 201, made.json
    tag_id = made.json["data"]["id"]
    key: str | None = http_tenant.write_key
    headers = dict(case.headers)
    if case.key == "none":
        key = None
    elif case.key == "revoked":
        local_api.revoke_key(http_tenant.id, http_tenant.write_key_id)
    elif case.key != "write":
        key = None
        headers["Authorization"] = case.key
    before = _tenant_items(local_api, http_tenant.id)
    result = local_api.request(case.method, case.path.replace("{tag}", tag_id), body=case.body, headers=headers,
                               key=key)
    assert_error(result, case.status, case.code)
    assert _tenant_items(local_api, http_tenant.id) == before
    still = local_api.request("GET", f"/tags/{tag_id}", key=http_tenant.read_key)
    assert still.status == 200 and still.json["data"]["name"] == "Existing"
