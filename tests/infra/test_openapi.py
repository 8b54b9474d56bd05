"""The OpenAPI document: it names exactly the template's routes, `make openapi` writes and checks it, the committed
docs/openapi.json matches the code, and template, tags-local and the document serve one route set (drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tags_tools import template as tpl
from tags_tools.openapi import build_spec, render


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


def test_every_operation_id_is_its_function_s_name() -> None:
    """Stable, readable operationIds for generated clients: `create_tag`, not one derived from the path."""
    spec, functions = build_spec(), tpl.functions()
    for route in tpl.api_routes():
        operation = spec["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == functions[route.function].module.split(".")[1], route


def test_openapi_main_writes_and_checks_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tags_tools import openapi  # noqa: PLC0415

    output = tmp_path / "openapi.json"
    assert openapi.main(["--output", str(output), "--check"]) == 1
    assert openapi.main(["--output", str(output)]) == 0
    assert json.loads(output.read_text())["openapi"].startswith("3.")
    assert openapi.main(["--output", str(output), "--check"]) == 0


def test_committed_openapi_matches_the_code() -> None:
    """docs/openapi.json is what the handlers' resolvers document today (`make openapi` regenerates it)."""
    from tags_tools.openapi import DEFAULT_OUTPUT  # noqa: PLC0415

    assert DEFAULT_OUTPUT.read_text(encoding="utf-8") == render(build_spec()), "run `make openapi`"


def test_the_served_document_is_the_committed_one_in_the_same_order(local_api: Any) -> None:
    """A client generated from docs/openapi.json and one generated from /openapi.json order fields alike."""
    from tags_tools.openapi import DEFAULT_OUTPUT  # noqa: PLC0415

    status, _, raw = local_api.request_raw("GET", "/openapi.json", key=None)
    assert status == 200
    served, committed = json.loads(raw), DEFAULT_OUTPUT.read_text(encoding="utf-8")
    assert served["servers"] == [{"url": local_api.url, "description": "This local server"}]
    served["servers"] = json.loads(committed)["servers"]  # in place: the order of the keys stays the served one
    assert render(served) == committed


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


ETAG_OPERATIONS = {"create_tag", "get_tag", "replace_tag", "update_tag", "create_group", "get_group", "update_group",
                   "list_object_tags", "append_object_tags", "replace_object_tags", "remove_object_tag"}
OBJECT_WRITES = {"append_object_tags", "replace_object_tags", "remove_object_tag"}


def test_every_response_declares_the_headers_of_the_contract() -> None:
    """A generated client can read them: X-Request-Id on every answer, Retry-After on 429 and 503, ETag on the
    success of single-resource reads and writes, RateLimit-Policy and RateLimit on object writes (success and
    429), Idempotent-Replayed on the answers a POST may replay; all as references to components/headers."""
    spec = build_spec()
    declared = spec["components"]["headers"]
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            name = operation["operationId"]
            for code, response in operation["responses"].items():
                headers = response["headers"]
                for header in headers.values():
                    assert header["$ref"].removeprefix("#/components/headers/") in declared
                where = (name, code)
                assert "X-Request-Id" in headers, where
                assert ("Retry-After" in headers) == (code in ("429", "503")), where
                success = code.startswith("2")
                assert ("ETag" in headers) == (success and name in ETAG_OPERATIONS), where
                assert ("RateLimit" in headers) == ((success or code == "429") and name in OBJECT_WRITES), where
                assert ("RateLimit-Policy" in headers) == ("RateLimit" in headers), where
                replayable = method == "post" and code != "429" and not code.startswith("5")
                assert ("Idempotent-Replayed" in headers) == replayable, where
    assert declared["X-Request-Id"]["required"] and declared["ETag"]["required"]


def test_schemas_state_the_rules_a_generated_client_can_check() -> None:
    spec = build_spec()
    schemas, parameters = spec["components"]["schemas"], spec["components"]["parameters"]
    patch = schemas["TagPatch"]["properties"]
    for field in ("name", "type"):  # null is refused: not nullable, no null default
        assert {"type": "null"} not in patch[field].get("anyOf", []) and "default" not in patch[field], patch[field]
    assert [b["$ref"].rsplit("/", 1)[1] for b in patch["type"]["anyOf"]] == ["TagType", "TagTypeNumber"]
    assert schemas["TagTypeNumber"]["x-enum-varnames"] == ["TAG", "GOAL", "MISS"]  # not VALUE_1
    assert patch["applies_to"]["$ref"].endswith("/AppliesToPatch")
    assert "anyOf" not in schemas["GroupPatch"]["properties"]["name"]
    assert all(p["type"] == "boolean" for p in schemas["AppliesToPatch"]["properties"].values())
    color = schemas["TagCreate"]["properties"]["color"]["anyOf"][0]
    assert re.fullmatch(color["pattern"], "#A0b1c2") and not re.fullmatch(color["pattern"], "")
    name = schemas["TagCreate"]["properties"]["name"]["pattern"]
    assert re.fullmatch(name, "Ops  2") and not re.fullmatch(name, "a\tb") and not re.fullmatch(name, "   ")
    items = schemas["BatchCreate"]["properties"]["tags"]["items"]["anyOf"]
    assert items[0]["type"] == "string" and items[1]["$ref"].endswith("/TagCreate")
    assert schemas["ItemError"]["properties"]["errors"]["items"]["$ref"].endswith("/ErrorEntry")
    assert {"existing_id", "tag_id", "tag_ids", "names", "tag_count"} <= set(schemas["ErrorEntry"]["properties"])
    assert parameters["kind"]["schema"] == {"$ref": "#/components/schemas/ObjectKinds"}
    kind_routes = [p for path, ops in spec["paths"].items() if "{kind}" in path for op in ops.values()
                   for p in op["parameters"] if p.get("$ref") == "#/components/parameters/kind"]
    kind_operations = [op for path, ops in spec["paths"].items() if "{kind}" in path for op in ops.values()]
    assert len(kind_routes) == len(kind_operations) >= 4  # one shared parameter, on every {kind} route...
    by_kind = next(p for p in spec["paths"]["/tags/{tag_id}/objects"]["get"]["parameters"] if p.get("name") == "kind")
    assert by_kind["schema"] == parameters["kind"]["schema"]  # ...and one enum, also for the reverse lookup filter
    group_filter = next(p for p in spec["paths"]["/tags"]["get"]["parameters"] if p.get("name") == "group_id")
    assert group_filter["schema"]["type"] == "string" and re.fullmatch(group_filter["schema"]["pattern"], "none")
    for operations in spec["paths"].values():  # a query string cannot say null: no nullable query parameter
        for operation in operations.values():
            for parameter in operation["parameters"]:
                assert "anyOf" not in parameter.get("schema", {}), parameter
