"""`tags-local` over real HTTP: what it prints when it starts, the gateway's envelopes, auth, tenancy, body limits,
its OpenAPI page, and API keys never reaching its log."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import re
import socket
import time
from typing import Any

import pytest

from tags_tools import template as tpl
from tests.helpers import API_KEY_TEXT, EXPECTED_FLOW, assert_envelope, key_flow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tags_local_prints_its_key_and_endpoints_and_serves(spawn_tags_local: Any) -> None:
    port = _free_port()
    client, lines = spawn_tags_local("--workers", "1", env={"PORT": str(port)})
    assert lines["API"] == f"http://127.0.0.1:{port}"
    assert re.fullmatch(r"tk_[0-9a-z]{26}_[A-Za-z0-9_-]{43}", lines["API key"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", lines["DynamoDB"])
    created = client.request("POST", "/tags", json={"name": "From the demo key"})
    assert created.status == 201, created
    assert created.json["data"]["account"] == {"id": "demo"}
    assert client.request("GET", f"/tags/{created.json['data']['id']}").status == 200
    assert client.stop() == 0  # SIGTERM shuts it down cleanly


def test_http_404_and_405_envelopes(local_api: Any) -> None:
    status, headers, body = local_api.request("GET", "/definitely/not/here")
    assert status == 404
    assert_envelope(404, body, headers, "not_found")
    status, headers, body = local_api.request("PATCH", "/tags")
    assert status == 405
    assert_envelope(405, body, headers, "method_not_allowed")
    assert "GET" in headers["Allow"] and "POST" in headers["Allow"]


def test_http_auth_failures(local_api: Any, http_tenant: Any) -> None:
    status, headers, body = local_api.request("GET", "/tags", key=None)
    assert status == 401
    assert_envelope(401, body, headers, "unauthenticated")
    status, _, body = local_api.request("GET", "/tags", key="tk_not_a_real_key")
    assert (status, body["errors"][0]["code"]) == (401, "unauthenticated")
    status, _, body = local_api.request("POST", "/tags", json={"name": "x"}, key=http_tenant.read_key)
    assert (status, body["errors"][0]["code"]) == (403, "forbidden")
    assert local_api.request("GET", "/tags", key=http_tenant.read_key).status == 200
    local_api.revoke_key(http_tenant.id, http_tenant.read_key_id)
    status, _, body = local_api.request("GET", "/tags", key=http_tenant.read_key)
    assert (status, body["errors"][0]["code"]) == (401, "unauthenticated")


def test_http_tenants_are_isolated(local_api: Any, http_tenant: Any) -> None:
    status, headers, body = local_api.request("POST", "/tags", json={"name": "Hot Lead"},
                                              key=http_tenant.write_key)
    assert status == 201, body
    tag = body["data"]
    status, headers, body = local_api.request("GET", f"/tags/{tag['id']}", key=http_tenant.read_key)
    assert status == 200
    assert headers["ETag"] == f'"{tag["version"]}"'
    assert body["data"]["account"] == {"id": http_tenant.id}
    assert local_api.request("GET", f"/tags/{tag['id']}", key=local_api.other_tenant.write_key).status == 404


def test_http_body_over_64_kib_is_413(local_api: Any, http_tenant: Any) -> None:
    status, headers, body = local_api.request("POST", "/tags", body=json.dumps({"name": "x" * (65 * 1024)}),
                                              headers={"Content-Type": "application/json"},
                                              key=http_tenant.write_key)
    assert status == 413
    assert_envelope(413, body, headers, "payload_too_large")



def test_http_a_client_keeps_its_connection_across_requests_as_with_api_gateway(local_api: Any,
                                                                                http_tenant: Any) -> None:
    """One connection: a create, a chunked create, a delete and a read, each answered as sent."""
    host, port = local_api.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.connect()
    opened = connection.sock
    auth = {"Authorization": f"Bearer {http_tenant.write_key}", "Content-Type": "application/json"}

    def send(method: str, path: str, body: Any = None, chunked: bool = False) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=iter([payload]) if chunked else payload, headers=auth,
                           encode_chunked=chunked)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    status, first = send("POST", "/tags", {"name": "kept alive"})
    assert status == 201, first
    status, second = send("POST", "/tags", {"name": "sent in chunks"}, chunked=True)
    assert (status, second["data"]["name"]) == (201, "sent in chunks")
    assert send("DELETE", f"/tags/{first['data']['id']}")[0] == 200
    status, read = send("GET", f"/tags/{second['data']['id']}")
    assert (status, read["data"]["id"]) == (200, second["data"]["id"])
    assert connection.sock is opened  # http.client would have reconnected had the server closed it

@pytest.mark.parametrize(("method", "path"), [("POST", "/tags"), ("POST", "/tags/batch"), ("POST", "/tag-groups"),
                                              ("PUT", "/conversations/c1/tags")])
def test_http_body_that_is_not_utf8_is_400_not_500(local_api: Any, http_tenant: Any, method: str, path: str) -> None:
    """Found by schemathesis: bytes that are not UTF-8 arrive base64-encoded and used to fail decoding (500)."""
    status, headers, body = local_api.request(method, path, body=b"\xff\xfe{\x07", key=http_tenant.write_key,
                                              headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert_envelope(400, body, headers, "invalid_json")


def test_http_concurrent_creates_of_one_name_make_one_tag(local_api: Any, http_tenant: Any) -> None:
    def create(_: int) -> int:
        return int(local_api.request("POST", "/tags", json={"name": "Race"}, key=http_tenant.write_key).status)

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 503}, statuses
    _, _, listing = local_api.request("GET", "/tags", query={"q": "race"}, key=http_tenant.read_key)
    assert [t["name"] for t in listing["data"]] == ["Race"]


def test_http_openapi_and_docs_need_no_key(local_api: Any) -> None:
    status, headers, spec = local_api.request("GET", "/openapi.json", key=None)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert {path for path in spec["paths"]} == {r.path for r in tpl.api_routes()}
    assert spec["servers"][0]["url"] == local_api.url

    status, headers, page = local_api.request_raw("GET", "/docs", key=None)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    html = page.decode()
    assert "/openapi.json" in html
    scripts = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts
    for asset in scripts:
        assert asset.startswith("/docs/"), "assets are served locally (works offline)"
        status, _, content = local_api.request_raw("GET", asset, key=None)
        assert status == 200 and len(content) > 10_000


def test_http_keys_never_reach_the_log(local_api: Any, http_tenant: Any) -> None:
    def call(method: str, path: str, key: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
        options: dict[str, Any] = {"key": key, "headers": headers}
        if body is not None:
            options["json"] = body
        result = local_api.request(method, path, **options)
        return result.status, result.json

    statuses = key_flow(call, http_tenant.write_key, http_tenant.read_key,
                        lambda: local_api.revoke_key(http_tenant.id, http_tenant.read_key_id))
    assert statuses == EXPECTED_FLOW
    logs = local_api.logs()
    assert http_tenant.read_key_id in logs and "key refused" in logs  # the authorizer logs key ids and refusals...
    assert http_tenant.read_key not in logs and http_tenant.write_key not in logs  # ...never keys
    # tags-local prints its demo key once when it starts (so a developer can use it), and no key ever after.
    banner = {f"API key: {local_api.api_key}", f"Try: curl -H 'Authorization: Bearer {local_api.api_key}' "
                                               f"{local_api.url}/tags"}
    leaked = [line for line in logs.splitlines() if API_KEY_TEXT.search(line) and line not in banner]
    assert leaked == []
    assert "Z" * 43 not in logs and "A" * 43 not in logs  # nor the secret part of a refused key


def test_http_local_status_says_when_the_stream_is_processed_to_its_end(local_api: Any, http_tenant: Any) -> None:
    status, _, _ = local_api.request("POST", "/tags", json={"name": "Status probe"}, key=http_tenant.write_key)
    assert status == 201
    written, deadline = time.time(), time.monotonic() + 30
    while True:  # caught up by a poll that started after the write
        status, headers, report = local_api.request("GET", "/_local/status", key=None)
        assert status == 200 and headers["Cache-Control"] == "no-store"
        consumers = report["stream"]
        if all(c["caught_up"] and c["last_poll"] > written for c in consumers) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert consumers and report["caught_up"], report
    assert all(c["pending"] == 0 and c["lost"] == 0 and c["processed"] >= 1 for c in consumers)
    assert report["dynamodb"]["transactions"] >= 1
