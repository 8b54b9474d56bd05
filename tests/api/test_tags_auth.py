"""The tag catalogue by direct handler invocation (API Gateway REST events through the template's routes, moto in
process): who may call it (no authorizer context, read and write keys, the real authorizer, revoked keys), tenants
never see each other's tags, and every answer carries the request id."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import (
    JSON_HEADERS,
    MISSING_ID,
    Invoke,
    assert_error,
    batch_create,
    get_tag,
    list_tags,
    names_of,
    new_tag,
    revoke_api_key,
)

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
    assert list_tags(invoke).json["meta"]["total"] == 1


def test_a_read_key_cannot_write(invoke: Invoke) -> None:
    tag = new_tag(invoke, "Existing")
    for method, path, body in WRITES:
        result = invoke(method, path.replace("{id}", tag["id"]), body=body, role="read")
        assert result.status == 403, (method, path)
        assert_error(result, 403, "forbidden")
    assert get_tag(invoke, tag["id"]) == tag
    assert list_tags(invoke).json["meta"]["total"] == 1


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
    assert list_tags(invoke).data == []


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
        assert [t["id"] for t in list_tags(invoke, **query).data] == [mine["id"]], query
    assert list_tags(invoke, type="goal").data == []
    assert list_tags(invoke).json["meta"]["total"] == 1
    assert invoke("GET", "/tags", tenant=other_tenant).json["meta"]["total"] == 3


def test_batch_never_reports_another_tenants_tags_as_existing(invoke: Invoke, other_tenant: Any) -> None:
    invoke("POST", "/tags", body={"name": "Common"}, tenant=other_tenant)
    data = batch_create(invoke, ["Common"])
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
