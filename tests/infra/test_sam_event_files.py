"""events/: every file is invoked against its function's handler as `sam local invoke -e` passes it, on a moto table
seeded with the fixtures the events refer to (tools/tags_tools/sam_events.py), with the environment
`--env-vars events/env.json` gives the function (moto standing in for the local endpoint).

A file is `events/<function code dir>[.<variant>].json` (events/README.md); every function has at least one.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tags_tools import sam_events as fx
from tags_tools import template as tpl
from tags_tools.apigw_events import Router
from tags_tools.local.invokers import LambdaContext
from tests.helpers import Repository, change_events, db

EVENTS_DIR = tpl.ROOT / "events"
TEMPLATE = tpl.load_template()
SPECS = tpl.functions(TEMPLATE)
BY_DIR = {spec.code_uri.rsplit("/", 1)[-1]: spec for spec in SPECS.values()}
ENV_FILE = json.loads((EVENTS_DIR / "env.json").read_text())
FILES = sorted(p for p in EVENTS_DIR.glob("*.json") if p.name != "env.json")
GLOBAL_VARIABLES = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])

CREATED = {"create_tag", "create_group"}  # answer 201; every other API event 200


def function_for(path: Path) -> tpl.FunctionSpec:
    return BY_DIR[path.name.split(".", 1)[0]]


def sam_environment(spec: tpl.FunctionSpec, table: str) -> dict[str, str]:
    """What `sam local invoke --env-vars events/env.json` sets: the template's variables (literals as they are),
    overridden by env.json's Parameters, then by the function's own entry; only variables the template declares."""
    values: dict[str, Any] = {**ENV_FILE.get("Parameters", {}), **ENV_FILE.get(spec.logical_id, {})}
    environment = {name: str(values.get(name, value)) for name, value in spec.environment.items()
                   if name in values or isinstance(value, (str, int))}
    environment.pop("DYNAMODB_ENDPOINT_URL", None)  # this test's moto replaces the local DynamoDB
    environment["TABLE_NAME"] = table
    return environment


# --- the files and the functions -------------------------------------------------------------------------------

def test_every_function_has_an_event_file() -> None:
    covered = {function_for(path).logical_id for path in FILES if path.name.split(".", 1)[0] in BY_DIR}
    assert sorted(set(SPECS) - covered) == []


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_event_file_names_a_function(path: Path) -> None:
    assert path.name.split(".", 1)[0] in BY_DIR, f"{path.name}: no function lives in functions/{path.stem}/"


def test_env_json_sets_only_variables_the_template_declares() -> None:
    """SAM CLI ignores --env-vars entries the template does not declare: such an entry would silently do nothing."""
    assert set(ENV_FILE) - {"Parameters"} <= set(SPECS), "entries are Parameters or function logical ids"
    assert set(ENV_FILE["Parameters"]) <= GLOBAL_VARIABLES
    for logical_id, variables in ENV_FILE.items():
        if logical_id != "Parameters":
            assert set(variables) <= set(SPECS[logical_id].environment), logical_id
    assert ENV_FILE["Parameters"]["DYNAMODB_ENDPOINT_URL"].startswith("http://")
    assert ENV_FILE["StreamProcessorFunction"]["EVENT_BUS_NAME"] == change_events.LOCAL_BUS


@pytest.mark.parametrize("path", [p for p in FILES if function_for(p).routes], ids=lambda p: p.name)
def test_api_events_are_requests_for_their_route(path: Path) -> None:
    spec = function_for(path)
    event = json.loads(path.read_text())
    match = Router(tpl.api_routes(TEMPLATE)).match(event["httpMethod"], event["path"])
    assert match.route.function == spec.logical_id
    assert event["resource"] == event["requestContext"]["resourcePath"] == match.route.path
    assert event["pathParameters"] == (match.path_parameters or None)
    authorizer = event["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("tenant", "role", "key_id", "principalId")} == {
        "tenant": fx.TENANT, "role": "write", "key_id": fx.KEY_ID, "principalId": fx.KEY_ID}
    assert event["requestContext"]["path"] == f"/{event['requestContext']['stage']}{event['path']}"


# --- invoking each file --------------------------------------------------------------------------------------------

@pytest.fixture
def published(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The events the local sink logs (EVENT_BUS_NAME=local), as EventBridge would deliver them."""
    caplog.set_level(logging.INFO, logger="tags.events")

    class Published(list[dict[str, Any]]):
        def read(self) -> list[dict[str, Any]]:
            return [json.loads(r.getMessage().removeprefix("event ")) for r in caplog.records
                    if r.name == "tags.events" and r.getMessage().startswith("event ")]

    return Published()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_invoke(path: Path, table: str, monkeypatch: pytest.MonkeyPatch, published: Any) -> None:
    spec = function_for(path)
    for name, value in sam_environment(spec, table).items():
        monkeypatch.setenv(name, value)
    db.reset()
    change_events.reset()
    fx.seed()
    handler = getattr(importlib.import_module(spec.module), spec.handler)
    context = LambdaContext(function_name=spec.logical_id, timeout_seconds=30)
    event = json.loads(path.read_text())

    if path.name == "authorizer.unauthorized.json":
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler(event, context)
        return
    result = handler(event, context)
    name = path.name.removesuffix(".json")
    repo = Repository()

    if spec.routes:
        assert result["statusCode"] == (201 if name in CREATED else 200), result["body"]
        body = json.loads(result["body"])
        assert "data" in body
        assert result["headers"]["X-Request-Id"] == event["requestContext"]["requestId"]
        if name == "delete_tag":
            assert repo.get_tag(fx.TENANT, fx.DELETE_TAG_ID, consistent=True) is None
        if name == "merge_tag":
            assert body["data"]["status"] == "merged"
        if name == "get_tag":
            assert body["data"]["id"] == fx.TAG_ID
        if name == "bulk_change_object_tags":
            assert [r["status"] for r in body["data"]] == ["changed", "changed"], body
        if name == "get_bulk_job":
            assert body["data"]["status"] == "done"
            assert [f["object_id"] for f in body["data"]["failures"]] == ["demo-conversation-9"]
        if name == "list_tag_objects":
            assert body["data"] == [{"kind": "conversation", "id": fx.DEMO_OBJECT[1], "attached_at": body["data"][0][
                "attached_at"]}]
    elif name == "authorizer":
        assert result["principalId"] == fx.KEY_ID
        assert result["context"] == {"tenant": fx.TENANT, "role": "write", "key_id": fx.KEY_ID}
        (statement,) = result["policyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
    elif name == "stream_processor":
        assert result == {"batchItemFailures": []}
        assert [e["detail-type"] for e in published.read()] == ["tag.updated", "tag.attached", "tag.deleted"]
        entries, _ = repo.query_reverse(fx.TENANT, fx.TAG_ID, "conversation", 10, None)
        assert "demo-conversation-2" in [e["object_id"] for e in entries], "the reverse index follows the stream"
    elif name == "command_consumer":
        assert result == {"batchItemFailures": []}
        tag_set = repo.get_tag_set(fx.TENANT, *fx.DEMO_OBJECT) or {}
        names = sorted(t["name"] for t in repo.get_tags(fx.TENANT, list(tag_set.get("tags") or {})).values())
        assert names == ["Demo merge target", "From the queue"]
    elif name == "command_consumer.partial_failure":
        bad = [r["messageId"] for r in event["Records"] if json.loads(r["body"])["kind"] == "tickets"]
        assert result == {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in bad]}
    else:
        pytest.fail(f"{path.name}: add what invoking it should give to this test")
