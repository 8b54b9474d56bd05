"""The local server's gateway in process, as API Gateway would act: routing (404, 405, CORS), the API Gateway event a
function gets, the authorizer and its cache, failing functions, response passing, IAM policy matching, and API keys
never reaching the functions' logs. `tags-local` over HTTP: tests/http/test_local_server.py."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tags_tools import template as tpl
from tags_tools.local.authorizer import policy_allows
from tags_tools.local.gateway import Gateway, GatewayRequest
from tags_tools.local.invokers import InProcessInvoker, Outcome, ProcessPoolInvoker
from tests.helpers import API_KEY_TEXT, EXPECTED_FLOW, assert_envelope, key_flow, revoke_api_key

MISSING_TAG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed id no tenant has
TEMPLATE_CORS = tpl.load_template()["Resources"]["TagsApi"]["Properties"]["Cors"]


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
    assert invoke("OPTIONS", "/nowhere/at/all").status == 404  # ("/nowhere" is a {kind}: the function says 404)


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

    def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float,
               **_: Any) -> Outcome:
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

    def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float,
               **_: Any) -> Outcome:
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
        def invoke(self, spec: Any, event: dict[str, Any], context: dict[str, Any], timeout: float,
                   **_: Any) -> Outcome:
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


# --- the worker pool ------------------------------------------------------------------------------------------

def test_event_sources_find_a_worker_free_while_api_requests_wait() -> None:
    """As on AWS, where an event source's invocations have concurrency of their own: with two workers, API requests
    use one, so the stream processor (here a handler that sleeps) runs at once while a second API request waits."""
    invoker = ProcessPoolInvoker(2, warm_modules=["tests.helpers"])
    function = SimpleNamespace(module="tests.helpers", handler="sleeping_function")
    context = {"function_name": "Sleeper", "memory_limit_in_mb": 128, "timeout_seconds": 30}
    ended: dict[str, float] = {}

    def call(name: str, seconds: float, event_source: bool) -> None:
        outcome = invoker.invoke(function, {"seconds": seconds}, context, 60, event_source=event_source)  # type: ignore[arg-type]
        assert outcome.ok, outcome.trace
        ended[name] = outcome.value["ended"]

    try:
        invoker.wait_warm()
        api = [threading.Thread(target=call, args=(f"api {n}", seconds, False)) for n, seconds in ((1, 2.0), (2, 0))]
        for thread in api:
            thread.start()
            time.sleep(0.3)  # the first holds the API's worker; the second waits for it
        call("stream", 0, True)
        for thread in api:
            thread.join(timeout=30)
    finally:
        invoker.close()
    assert ended["stream"] < ended["api 1"] <= ended["api 2"]
