"""tags_tools.apigw_events: the REST proxy event, the TOKEN authorizer event and API Gateway's route matching."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from tags_tools import template as tpl
from tags_tools.apigw_events import (
    MethodNotAllowed,
    RouteNotFound,
    Router,
    method_arn,
    rest_event,
    token_authorizer_event,
)
from tags_tools.template import Route

TOP_LEVEL = {"resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
             "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
             "isBase64Encoded"}


def test_event_has_the_rest_proxy_shape() -> None:
    before = int(time.time() * 1000)
    event = rest_event("get", "/tags/01ABC", resource="/tags/{tag_id}", path_parameters={"tag_id": "01ABC"},
                       headers={"Accept": "application/json", "User-Agent": "pytest"},
                       authorizer={"tenant": "acme", "role": "read", "key_id": "k1"})
    assert set(event) == TOP_LEVEL
    assert event["httpMethod"] == "GET"
    assert event["resource"] == "/tags/{tag_id}"
    assert event["path"] == "/tags/01ABC"
    assert event["pathParameters"] == {"tag_id": "01ABC"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["headers"]["User-Agent"] == "pytest"
    assert event["multiValueHeaders"]["Accept"] == ["application/json"]

    context = event["requestContext"]
    assert context["resourcePath"] == "/tags/{tag_id}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/v1/tags/01ABC"
    assert context["stage"] == "v1"
    assert context["accountId"] == "123456789012"
    assert re.fullmatch(r"[a-z0-9]{10}", context["apiId"])
    assert uuid.UUID(context["requestId"])
    assert before <= context["requestTimeEpoch"] <= int(time.time() * 1000)
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "pytest"
    assert context["authorizer"]["tenant"] == "acme"
    assert context["authorizer"]["role"] == "read"
    assert context["authorizer"]["principalId"] == "k1"


def test_each_request_gets_its_own_request_id() -> None:
    assert rest_event("GET", "/tags")["requestContext"]["requestId"] != rest_event("GET", "/tags")[
        "requestContext"]["requestId"]


def test_repeated_query_and_header_names_keep_every_value_and_the_last_wins() -> None:
    event = rest_event("GET", "/tags", query=[("type", "tag"), ("type", "goal"), ("q", "hot lead")],
                       headers=[("X-Thing", "a"), ("X-Thing", "b")])
    assert event["queryStringParameters"] == {"type": "goal", "q": "hot lead"}
    assert event["multiValueQueryStringParameters"] == {"type": ["tag", "goal"], "q": ["hot lead"]}
    assert event["headers"]["X-Thing"] == "b"
    assert event["multiValueHeaders"]["X-Thing"] == ["a", "b"]
    mapping = rest_event("GET", "/tags", query={"limit": "5", "type": ["tag", "miss"]})
    assert mapping["multiValueQueryStringParameters"] == {"limit": ["5"], "type": ["tag", "miss"]}


def test_bodies_text_bytes_and_binary() -> None:
    assert rest_event("POST", "/tags", body='{"name": "x"}')["body"] == '{"name": "x"}'
    utf8 = rest_event("POST", "/tags", body="Café".encode())
    assert (utf8["body"], utf8["isBase64Encoded"]) == ("Café", False)
    binary = rest_event("POST", "/tags", body=b"\xff\xfe\x00")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\xfe\x00"
    forced = rest_event("POST", "/tags", body="hi", is_base64_encoded=True)
    assert (forced["body"], forced["isBase64Encoded"]) == (base64.b64encode(b"hi").decode(), True)
    assert rest_event("POST", "/tags", body=b"")["body"] is None


def test_authorizer_context_values_arrive_as_strings_and_without_it_there_is_none() -> None:
    event = rest_event("GET", "/tags", authorizer={"tenant": "acme", "n": 3, "flag": True}, principal_id="p")
    context = event["requestContext"]["authorizer"]
    assert {k: context[k] for k in ("tenant", "n", "flag", "principalId")} == {
        "tenant": "acme", "n": "3", "flag": "true", "principalId": "p"}
    assert "authorizer" not in rest_event("GET", "/tags")["requestContext"]


def _sam_event() -> dict[str, Any] | None:
    sam = Path(sys.executable).with_name("sam")
    if not sam.exists():
        return None
    completed = subprocess.run(
        [str(sam), "local", "generate-event", "apigateway", "aws-proxy", "--method", "GET", "--path", "tags/abc",
         "--resource", "/tags/{tag_id}", "--stage", "v1"],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "SAM_CLI_TELEMETRY": "0"})
    return json.loads(completed.stdout) if completed.returncode == 0 else None


def test_event_carries_everything_sam_generate_event_has() -> None:
    sam = _sam_event()
    if sam is None:
        pytest.skip("sam CLI not available")
    ours = rest_event("GET", "/tags/abc", resource="/tags/{tag_id}", path_parameters={"tag_id": "abc"},
                      query={"foo": "bar"}, headers={"Accept": "*/*"}, authorizer={"tenant": "t"})
    assert set(ours) == set(sam)
    assert set(sam["requestContext"]) <= set(ours["requestContext"])
    assert set(sam["requestContext"]["identity"]) <= set(ours["requestContext"]["identity"])
    assert (ours["path"], ours["requestContext"]["path"]) == (sam["path"], sam["requestContext"]["path"])
    for key in ("resource", "httpMethod"):
        assert ours[key] == sam[key]
    for key, value in sam["requestContext"].items():
        assert type(ours["requestContext"][key]) is type(value), key


def test_powertools_reads_the_event_and_routes_it() -> None:
    event = rest_event("PATCH", "/tags/01ABC", resource="/tags/{tag_id}", path_parameters={"tag_id": "01ABC"},
                       query={"dry_run": "true"}, headers={"Content-Type": "application/json", "If-Match": '"3"'},
                       body='{"color": "#ff8800"}', authorizer={"tenant": "acme", "role": "write", "key_id": "k"})
    parsed = APIGatewayProxyEvent(event)
    assert parsed.http_method == "PATCH"
    assert parsed.path == "/tags/01ABC"
    assert parsed.path_parameters == {"tag_id": "01ABC"}
    assert parsed.get_query_string_value("dry_run") == "true"
    assert parsed.headers["If-Match"] == '"3"'
    assert parsed.json_body == {"color": "#ff8800"}
    assert parsed.request_context.authorizer.raw_event["tenant"] == "acme"
    assert parsed.request_context.stage == "v1"

    app = APIGatewayRestResolver()

    @app.patch("/tags/<tag_id>")
    def patch(tag_id: str) -> dict[str, Any]:
        return {"tag_id": tag_id, "body": app.current_event.json_body}

    response = app.resolve(event, None)  # type: ignore[arg-type]
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"tag_id": "01ABC", "body": {"color": "#ff8800"}}


def test_token_authorizer_event_and_method_arn() -> None:
    event = token_authorizer_event("Bearer tk_x", "get", "/tags/01ABC")
    assert event == {"type": "TOKEN", "authorizationToken": "Bearer tk_x",
                     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:tagslocal1/v1/GET/tags/01ABC"}
    assert method_arn("POST", "/", api_id="abcdefghij", stage="prod").endswith(":abcdefghij/prod/POST/")


# --- routing ---------------------------------------------------------------------------------------------------

ROUTES = [Route("GET", "/tags", "List"), Route("POST", "/tags", "Create"), Route("POST", "/tags/batch", "Batch"),
          Route("GET", "/tags/{tag_id}", "Get"), Route("DELETE", "/tags/{tag_id}", "Delete"),
          Route("GET", "/{kind}/{object_id}/tags", "ObjectTags"), Route("ANY", "/files/{path+}", "Files")]


def test_literal_segments_win_over_parameters() -> None:
    router = Router(ROUTES)
    assert router.match("POST", "/tags/batch").route.function == "Batch"
    match = router.match("GET", "/tags/01ABC")
    assert (match.route.function, match.path_parameters) == ("Get", {"tag_id": "01ABC"})


def test_a_known_path_with_another_method_is_405_with_the_allowed_methods() -> None:
    router = Router(ROUTES, implicit_methods=["OPTIONS"])
    with pytest.raises(MethodNotAllowed) as caught:
        router.match("DELETE", "/tags")
    assert caught.value.allowed == ("GET", "POST", "OPTIONS")
    assert caught.value.resource == "/tags"
    # API Gateway picks the resource first: /tags/batch exists, so GET on it is not /tags/{tag_id}.
    with pytest.raises(MethodNotAllowed) as batch:
        router.match("GET", "/tags/batch")
    assert batch.value.allowed == ("POST", "OPTIONS")


@pytest.mark.parametrize("path", ["/", "/nope", "/tags/a/b", "/tagsx", "/conversations/c1/tags/extra/x"])
def test_an_unknown_path_is_not_found(path: str) -> None:
    with pytest.raises(RouteNotFound):
        Router(ROUTES).match("GET", path)


def test_parameters_are_decoded_trailing_slash_ignored_greedy_and_any() -> None:
    router = Router(ROUTES)
    match = router.match("GET", "/conversations/a%3Ab%20c/tags/")
    assert match.path_parameters == {"kind": "conversations", "object_id": "a:b c"}
    files = router.match("PUT", "/files/a/b/c.txt")
    assert (files.route.function, files.path_parameters) == ("Files", {"path": "a/b/c.txt"})


def test_duplicate_routes_are_refused() -> None:
    with pytest.raises(ValueError, match="two routes"):
        Router([Route("GET", "/tags", "A"), Route("GET", "/tags", "B")])


def test_every_route_of_the_template_is_reachable() -> None:
    routes = tpl.api_routes()
    assert routes
    router = Router(routes)
    for route in routes:
        path = re.sub(r"\{([^}+]+)\+?\}", lambda m: f"x-{m.group(1)}", route.path)
        match = router.match(route.method, path)
        assert match.route == route
        assert set(match.path_parameters) == set(re.findall(r"\{([^}+]+)\+?\}", route.path))
