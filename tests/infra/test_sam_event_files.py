"""events/: every file is invoked against its function's handler as `sam local invoke -e` passes it, on a moto table
seeded with the fixtures the events refer to (tools/tags_tools/sam_events.py), with the environment
`--env-vars events/env.json` gives the function (moto standing in for the local endpoint).

A file is `events/<function code dir>[.<variant>].json` (events/README.md); every function has at least one.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tags_core import observability
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

class Printed:
    """What the function printed on stdout (Lambda's log): its JSON log lines and its EMF metric documents."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.text = ""

    def read(self) -> Printed:
        self.text += self._capsys.readouterr().out
        return self

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if "_aws" not in d]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if "_aws" in d]

    def events(self) -> list[dict[str, Any]]:
        """The change events the local sink logs (EVENT_BUS_NAME=local), as EventBridge would deliver them."""
        return [d["event"] for d in self.read().logs if d.get("message") == "change event"]


@pytest.fixture
def published(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Printed]:
    """Logs at INFO and metrics on, as the template sets them (tests/helpers.py turns both down)."""
    level = observability.logger.log_level
    observability.logger.setLevel("INFO")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    try:
        yield Printed(capsys)
    finally:
        observability.logger.setLevel(level)


def prepare(path: Path, table: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, LambdaContext, dict[str, Any]]:
    """The file's function with the environment `sam local invoke` gives it, the fixtures seeded; its event."""
    spec = function_for(path)
    for name, value in sam_environment(spec, table).items():
        monkeypatch.setenv(name, value)
    db.reset()
    change_events.reset()
    fx.seed()
    handler = getattr(importlib.import_module(spec.module), spec.handler)
    return handler, LambdaContext(function_name=spec.logical_id, timeout_seconds=30), json.loads(path.read_text())


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_invoke(path: Path, table: str, monkeypatch: pytest.MonkeyPatch, published: Printed) -> None:
    spec = function_for(path)
    handler, context, event = prepare(path, table, monkeypatch)

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
        if name == "find_objects":  # all=Demo tag, none=Demo tag to delete: the demo object, by its tags
            assert body["data"] == [{"kind": "conversation", "id": fx.DEMO_OBJECT[1], "tag_ids": [fx.TAG_ID]}]
    elif name == "authorizer":
        assert result["principalId"] == fx.KEY_ID
        assert result["context"] == {"tenant": fx.TENANT, "role": "write", "key_id": fx.KEY_ID}
        (statement,) = result["policyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
    elif name == "stream_processor":
        assert result == {"batchItemFailures": []}
        assert [e["detail-type"] for e in published.events()] == ["tag.updated", "tag.attached", "tag.deleted"]
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


# --- what each invocation prints: logs and metrics (docs/operations.md) ------------------------------------------

API_FILES = [p for p in FILES if function_for(p).routes]


def total(document: dict[str, Any], name: str) -> float:
    """A metric's value in an EMF document (Powertools writes a list of values)."""
    value = document.get(name, 0)
    return sum(value) if isinstance(value, list) else value


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_events_log_the_request_and_emit_its_metrics(path: Path, table: str, monkeypatch: pytest.MonkeyPatch,
                                                          published: Printed) -> None:
    handler, context, event = prepare(path, table, monkeypatch)
    published.read()
    published.text = ""
    result = handler(event, context)
    printed = published.read()
    operation = path.name.removesuffix(".json")  # the operation id is the function's directory name

    request_lines = [line for line in printed.logs if line.get("message") == "request"]
    assert len(request_lines) == 1, printed.text
    line = request_lines[0]
    assert line["correlation_id"] == event["requestContext"]["requestId"]
    assert (line["tenant"], line["key_id"]) == (fx.TENANT, fx.KEY_ID)
    assert line["route"] == f"{event['httpMethod']} {event['resource']}"
    assert line["status"] == result["statusCode"]
    assert line["level"] == "INFO" and line["service"] == "tags"
    for other in printed.logs:  # every line of the request carries who and what
        assert other["correlation_id"] == line["correlation_id"] and other["tenant"] == fx.TENANT

    (document,) = [d for d in printed.metrics if "Requests" in d]
    (definition,) = document["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "TagsService"
    assert definition["Dimensions"] == [["operation", "service"]] or sorted(definition["Dimensions"][0]) == [
        "operation", "service"]
    assert (document["service"], document["operation"], total(document, "Requests")) == ("tags", operation, 1)
    assert document["tenant"] == fx.TENANT, "the tenant is a property of the document"
    assert all(sorted(dims) in (["operation", "service"], ["code", "operation", "service"], ["function_name",
               "service"]) for d in printed.metrics for dims in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"])
    expected = {"create_tag": {"TagsCreated": 1}, "batch_create_tags": {"TagsCreated": 2},
                "delete_tag": {"TagsDeleted": 1}, "merge_tag": {"Merges": 1},
                "remove_object_tag": {"AttachmentsRemoved": 1},
                "bulk_change_object_tags": {"BulkObjects": 2}}.get(operation, {})
    assert {name: total(document, name) for name in expected} == expected
    if operation in ("append_object_tags", "replace_object_tags"):
        assert total(document, "AttachmentsAdded") + total(document, "AttachmentsRemoved") >= 1


def test_an_error_is_counted_by_its_code(table: str, monkeypatch: pytest.MonkeyPatch, published: Printed) -> None:
    path = EVENTS_DIR / "get_tag.json"
    handler, context, event = prepare(path, table, monkeypatch)
    event = {**event, "pathParameters": {"tag_id": "01JDTAG0000000000000000999"},
             "path": "/tags/01JDTAG0000000000000000999"}
    published.read()
    published.text = ""
    result = handler(event, context)
    assert result["statusCode"] == 404
    printed = published.read()
    (error,) = [d for d in printed.metrics if "Errors" in d]
    assert (error["service"], error["operation"], error["code"], total(error, "Errors")) == (
        "tags", "get_tag", json.loads(result["body"])["errors"][0]["code"], 1)
    (failed,) = [line for line in printed.logs if line.get("message") == "request failed"]
    assert failed["status"] == 404 and failed["error_code"] == error["code"]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_log_line_carries_a_key(path: Path, table: str, monkeypatch: pytest.MonkeyPatch,
                                   published: Printed) -> None:
    """Not the key of the event's Authorization header or authorizationToken, not the header itself, even with
    every log line at DEBUG."""
    handler, context, event = prepare(path, table, monkeypatch)
    observability.logger.setLevel("DEBUG")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    secrets = {s.removeprefix("Bearer ") for s in (headers.get("authorization"), event.get("authorizationToken"))
               if s}
    with contextlib.suppress(Exception):  # the unauthorized authorizer event raises, as API Gateway expects
        handler(event, context)
    text = published.read().text
    assert published.logs, "the function logged nothing"
    for secret in secrets | {fx.API_KEY}:
        assert secret not in text
    assert "authorization" not in text.lower()
