"""The local server: the gateway it emulates (in process) and `tags-local` itself (over HTTP)."""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import logging
import re
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tags_core.auth import revoke_api_key
from tags_tools import template as tpl
from tags_tools.local_server import (
    Gateway,
    GatewayRequest,
    InProcessInvoker,
    Outcome,
    policy_allows,
)
from tags_tools.openapi import build_spec, render

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MISSING_TAG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed id no tenant has
TEMPLATE_CORS = tpl.load_template()["Resources"]["TagsApi"]["Properties"]["Cors"]


def assert_envelope(status: int, body: Any, headers: Any, code: str) -> None:
    assert isinstance(body, dict), body
    assert body["status"] == status
    assert body["description"]
    assert RFC3339_UTC.match(body["response_time"]), body["response_time"]
    assert body["errors"] and body["errors"][0]["code"] == code
    assert body["errors"][0]["message"]
    assert headers["X-Request-Id"] == body["request_id"]
    assert uuid.UUID(body["request_id"])


# --- the gateway, in process -----------------------------------------------------------------------------------

def test_unknown_route_is_404_in_the_envelope(invoke: Callable[..., Any]) -> None:
    result = invoke("GET", "/no/such/thing")
    assert result.status == 404
    assert_envelope(404, result.json, result.headers, "not_found")
    assert result.event is None  # no function was called


def test_known_path_wrong_method_is_405_with_allow(invoke: Callable[..., Any]) -> None:
    result = invoke("DELETE", "/tags")
    assert result.status == 405
    assert_envelope(405, result.json, result.headers, "method_not_allowed")
    allowed = {m.strip() for m in result.headers["Allow"].split(",")}
    assert allowed == {r.method for r in tpl.api_routes() if r.path == "/tags"} | {"OPTIONS"}


def test_cors_preflight_answers_from_the_template(invoke: Callable[..., Any]) -> None:
    result = invoke("OPTIONS", "/tags/01ANYTHING", principal=None)
    assert result.status == 204
    assert result.body == b""
    assert result.headers["Access-Control-Allow-Origin"] == TEMPLATE_CORS["AllowOrigin"].strip("'")
    assert result.headers["Access-Control-Allow-Methods"] == TEMPLATE_CORS["AllowMethods"].strip("'")
    assert "Authorization" in result.headers["Access-Control-Allow-Headers"]
    assert invoke("OPTIONS", "/nowhere").status == 404


def test_the_function_gets_the_route_and_the_callers_tenant(invoke: Callable[..., Any], tenant: Any) -> None:
    result = invoke("GET", f"/tags/{MISSING_TAG}", role="read")
    assert result.status == 404
    assert result.event["resource"] == "/tags/{tag_id}"
    assert result.event["pathParameters"] == {"tag_id": MISSING_TAG}
    authorizer = result.event["requestContext"]["authorizer"]
    assert (authorizer["tenant"], authorizer["role"], authorizer["key_id"]) == (tenant.id, "read", tenant.read_key_id)
    assert result.headers["X-Request-Id"] == result.event["requestContext"]["requestId"]


class _RecordingInvoker(InProcessInvoker):
    def __init__(self) -> None:
        super().__init__()
        self.functions: list[str] = []

    def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float) -> Outcome:
        self.functions.append(spec.logical_id)
        return super().invoke(spec, event, context, timeout)


def test_the_authorizer_runs_like_api_gateway(tenant: Any) -> None:
    invoker = _RecordingInvoker()
    gateway = Gateway(invoker=invoker, authorizer_ttl=0)
    authorizer = tpl.authorizer().logical_id

    def get(*headers: tuple[str, str]) -> Any:
        invoker.functions.clear()
        return gateway.handle(GatewayRequest("GET", "/tags", headers=list(headers)))

    missing = get()
    assert missing.status == 401
    assert_envelope(401, missing.json(), {"X-Request-Id": missing.header("X-Request-Id")}, "unauthenticated")
    assert missing.header("WWW-Authenticate") == "Bearer"
    assert invoker.functions == []  # no token: the authorizer is not called

    assert get(("Authorization", "Basic abc==")).status == 401
    assert invoker.functions == []  # refused by the identity source's validation expression

    unknown = get(("Authorization", "Bearer tk_" + "0" * 26 + "_" + "A" * 43))
    assert unknown.status == 401
    assert unknown.json()["errors"][0]["code"] == "unauthenticated"
    assert invoker.functions == [authorizer]  # "Unauthorized" from the authorizer: no function call

    ok = get(("authorization", f"Bearer {tenant.read_key}"))  # header names are case-insensitive
    assert ok.status == 200, ok.json()
    list_tags = next(r.function for r in tpl.api_routes() if (r.method, r.path) == ("GET", "/tags"))
    assert invoker.functions == [authorizer, list_tags]
    assert ok.event["requestContext"]["authorizer"]["tenant"] == tenant.id
    assert ok.event["requestContext"]["authorizer"]["principalId"] == tenant.read_key_id


def test_read_key_cannot_write_the_policy_says_so(invoke: Callable[..., Any], tenant: Any) -> None:
    result = invoke("POST", "/tags", body={"name": "Nope"}, key=tenant.read_key)
    assert result.status == 403
    assert_envelope(403, result.json, result.headers, "forbidden")
    assert result.event is None  # refused by the gateway, not by the function
    assert invoke("POST", "/tags", body={"name": "Yes"}, key=tenant.write_key).status == 201


def test_revoked_key_is_refused_once_the_cache_is_off(invoke: Callable[..., Any], tenant: Any) -> None:
    assert invoke("GET", "/tags", key=tenant.read_key).status == 200
    revoke_api_key(tenant.id, tenant.read_key_id)
    assert invoke("GET", "/tags", key=tenant.read_key).status == 401


def test_authorizer_results_are_cached_for_the_ttl(tenant: Any, call_counter: Any) -> None:
    gateway = Gateway(authorizer_ttl=300)
    request = GatewayRequest("GET", f"/tags/{MISSING_TAG}", headers=[("Authorization", f"Bearer {tenant.read_key}")])
    assert gateway.handle(request).status == 404
    first = call_counter.count
    call_counter.reset()
    assert gateway.handle(request).status == 404
    assert call_counter.count == first - 1  # the same calls, less the authorizer's key lookup
    revoke_api_key(tenant.id, tenant.read_key_id)
    assert gateway.handle(request).status == 404  # API Gateway too keeps a revoked key until the TTL ends
    gateway.authorizer_cache.clear()
    assert gateway.handle(request).status == 401


class _StubInvoker:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float) -> Outcome:
        if spec.logical_id == tpl.authorizer().logical_id:
            return Outcome(value={"principalId": "k", "context": {"tenant": "t", "role": "write", "key_id": "k"},
                                  "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                                    "Resource": "*"}]}})
        return self.outcome

    def close(self) -> None:
        return None


@pytest.mark.parametrize("outcome", [
    Outcome(error_type="KeyError", error_message="'secret internals'", trace="Traceback: secret internals"),
    Outcome(value="not a proxy response"),
    Outcome(value={"statusCode": "abc"}),
])
def test_a_failing_function_is_a_generic_500(outcome: Outcome, caplog: pytest.LogCaptureFixture) -> None:
    gateway = Gateway(invoker=_StubInvoker(outcome), authorizer_ttl=0)
    answer = gateway.handle(GatewayRequest("GET", "/tags", headers=[("Authorization", "Bearer tk_x")]))
    assert answer.status == 500
    body = answer.json()
    assert_envelope(500, body, {"X-Request-Id": answer.header("X-Request-Id")}, "internal_error")
    assert "secret" not in answer.body.decode()
    if outcome.trace:
        assert "secret internals" in caplog.text  # logged server-side, with the request id
        assert body["request_id"] in caplog.text


def test_the_authorizers_answer_is_checked() -> None:
    class Broken(_StubInvoker):
        def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float) -> Outcome:
            return Outcome(value={"policyDocument": {}})

    gateway = Gateway(invoker=Broken(Outcome()), authorizer_ttl=0)
    answer = gateway.handle(GatewayRequest("GET", "/tags", headers=[("Authorization", "Bearer tk_x")]))
    assert answer.status == 500
    assert answer.json()["errors"][0]["code"] == "internal_error"


def test_binary_and_multi_value_responses_are_passed_on() -> None:
    value = {"statusCode": 200, "headers": {"X-One": "1", "Set-Cookie": "ignored"},
             "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "AAEC", "isBase64Encoded": True}
    answer = Gateway(invoker=_StubInvoker(Outcome(value=value)), authorizer_ttl=0).handle(
        GatewayRequest("GET", "/tags", headers=[("Authorization", "Bearer tk_x")]))
    assert answer.status == 200
    assert answer.body == b"\x00\x01\x02"
    assert [v for k, v in answer.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert answer.header("X-One") == "1"


@pytest.mark.parametrize(("resource", "arn", "allowed"), [
    ("arn:aws:execute-api:us-east-1:1:api/v1/GET/*", "arn:aws:execute-api:us-east-1:1:api/v1/GET/tags/x", True),
    ("arn:aws:execute-api:us-east-1:1:api/v1/GET/*", "arn:aws:execute-api:us-east-1:1:api/v1/POST/tags", False),
    ("arn:aws:execute-api:us-east-1:1:api/v1/*/*", "arn:aws:execute-api:us-east-1:1:api/v1/DELETE/tags/x", True),
    ("arn:aws:execute-api:us-east-1:1:api/v?/GET/tags", "arn:aws:execute-api:us-east-1:1:api/v1/GET/tags", True),
    ("arn:aws:execute-api:us-east-1:1:api/v1/GET/tags", "arn:aws:execute-api:us-east-1:1:api/v1/GET/tags/x", False),
])
def test_policy_resources_match_with_iam_wildcards(resource: str, arn: str, allowed: bool) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [resource]}]}
    assert policy_allows(policy, arn) is allowed


def test_an_explicit_deny_wins_and_other_actions_do_not_count() -> None:
    arn = "arn:aws:execute-api:us-east-1:1:api/v1/GET/tags"
    allow = {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}
    assert policy_allows({"Statement": [allow]}, arn)
    assert not policy_allows({"Statement": [allow, {**allow, "Effect": "Deny", "Resource": arn}]}, arn)
    assert not policy_allows({"Statement": [{**allow, "Action": "s3:GetObject"}]}, arn)
    assert not policy_allows({"Statement": []}, arn)


# --- the OpenAPI document --------------------------------------------------------------------------------------

def test_openapi_documents_exactly_the_routes_of_the_template() -> None:
    spec = build_spec()
    documented = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
    assert documented == {(r.method, r.path) for r in tpl.api_routes()}
    assert spec["info"]["title"] == "Tags API"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    text = render(spec)
    assert text.endswith("}\n")
    assert '"422"' not in text  # the service answers validation errors with 400
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs <= set(spec["components"]["schemas"])  # every reference resolves...
    assert set(spec["components"]["schemas"]) <= refs  # ...and nothing unused is left


def test_openapi_main_writes_and_checks_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tags_tools import openapi  # noqa: PLC0415

    output = tmp_path / "openapi.json"
    assert openapi.main(["--output", str(output), "--check"]) == 1
    assert openapi.main(["--output", str(output)]) == 0
    assert json.loads(output.read_text())["openapi"].startswith("3.")
    assert openapi.main(["--output", str(output), "--check"]) == 0


# --- tags-local over HTTP --------------------------------------------------------------------------------------

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


API_KEY_TEXT = re.compile(r"tk_[0-9a-z]{26}_[A-Za-z0-9_-]{43}")


def key_flow(call: Callable[..., tuple[int, Any]], write: str, read: str, revoke: Callable[[], None]) -> list[int]:
    """Every kind of request that carries a key: reads, writes (idempotent too), refused roles, unknown, wrong,
    malformed and revoked keys. `call(method, path, key, body=None, headers=None)` -> (status, json)."""
    key_id = write.split("_")[1]
    wrong_secret = f"tk_{key_id}_{'Z' * 43}"  # a real key id with a wrong secret
    statuses = []
    status, body = call("POST", "/tags", write, {"name": "Logged?"}, {"Idempotency-Key": "log-1"})
    statuses.append(status)
    tag_id = body["data"]["id"]
    for method, path, key, payload, headers in [
        ("POST", "/tags", write, {"name": "Logged?"}, {"Idempotency-Key": "log-1"}),  # replay
        ("GET", "/tags", read, None, None),
        ("GET", f"/tags/{tag_id}", read, None, None),
        ("PATCH", f"/tags/{tag_id}", write, {"description": "x"}, {"If-Match": '"1"'}),
        ("PATCH", f"/tags/{tag_id}", write, {"description": "y"}, {"If-Match": '"1"'}),  # 412
        ("POST", "/conversations/c-log/tags", write, {"tags": ["Logged?", "Also logged?"]}, None),
        ("GET", "/conversations/c-log/tags", read, None, None),
        ("POST", "/tags", write, {"name": "\u0000"}, None),  # 400
        ("POST", "/tags", read, {"name": "Not allowed"}, None),  # 403
        ("GET", "/tags", wrong_secret, None, None),  # 401
        ("GET", "/tags", "tk_" + "0" * 26 + "_" + "A" * 43, None, None),  # 401, unknown key id
        ("GET", "/tags", write + "x", None, None),  # 401, malformed
        ("DELETE", f"/tags/{tag_id}", write, None, None),
    ]:
        statuses.append(call(method, path, key, payload, headers)[0])
    revoke()
    statuses.append(call("GET", "/tags", read, None, None)[0])  # 401, revoked
    return statuses


EXPECTED_FLOW = [201, 201, 200, 200, 200, 412, 200, 200, 400, 403, 401, 401, 401, 200, 401]


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


def test_keys_never_reach_the_functions_logs(invoke: Callable[..., Any], tenant: Any, caplog: pytest.LogCaptureFixture,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    """The same flow in process, through the real authorizer, with every logger at DEBUG: neither the records
    (caplog) nor what Powertools' loggers print (capfd) hold a key."""
    for spec in tpl.functions().values():  # loggers exist once their modules are imported
        importlib.import_module(spec.module)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = [logger.level for logger in loggers]
    caplog.set_level(logging.DEBUG)
    try:
        for logger in loggers:
            logger.setLevel(logging.DEBUG)

        def call(method: str, path: str, key: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
            result = invoke(method, path, key=key, body=body, headers=headers)
            return result.status, result.json

        statuses = key_flow(call, tenant.write_key, tenant.read_key,
                            lambda: revoke_api_key(tenant.id, tenant.read_key_id))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert statuses == EXPECTED_FLOW
    printed = capfd.readouterr()
    text = caplog.text + printed.out + printed.err
    assert "key accepted" in text and "key refused" in text, "the authorizer's log was not captured"
    assert tenant.read_key_id in text
    assert not API_KEY_TEXT.search(text), API_KEY_TEXT.search(text)
    secrets = [key.split("_", 2)[2] for key in (tenant.write_key, tenant.read_key)]  # the secret may hold "_"
    assert all(secret not in text for secret in secrets)
    assert "Z" * 43 not in text and "A" * 43 not in text


def test_committed_openapi_matches_the_code() -> None:
    """docs/openapi.json is what the handlers' resolvers document today (`make openapi` regenerates it)."""
    from tags_tools.openapi import DEFAULT_OUTPUT  # noqa: PLC0415

    assert DEFAULT_OUTPUT.read_text(encoding="utf-8") == render(build_spec()), "run `make openapi`"


def test_template_local_server_and_committed_openapi_serve_one_route_set(local_api: Any) -> None:
    """The routes of template.yaml, the routes tags-local answers and the paths of docs/openapi.json are one set."""
    from tags_tools.openapi import DEFAULT_OUTPUT  # noqa: PLC0415

    template_routes = {(r.method, r.path) for r in tpl.api_routes()}
    committed = json.loads(DEFAULT_OUTPUT.read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, ops in committed["paths"].items() for method in ops}
    assert documented == template_routes

    served = set()
    for method, path in sorted(template_routes):
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        result = local_api.request(method, concrete, key=None)  # no key: the route exists, the gateway says 401
        codes = [e["code"] for e in result.json["errors"]] if isinstance(result.json, dict) else []
        if result.status == 401:
            served.add((method, path))
        else:
            pytest.fail(f"{method} {concrete}: {result.status} {codes}")
    assert served == template_routes
    # a path outside the set is not served, whatever the method
    assert local_api.request("GET", "/tags/x1/unknown", key=None).status == 404
