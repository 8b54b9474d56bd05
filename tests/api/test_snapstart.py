"""SnapStart (EnableSnapStart): the before-snapshot hook, then a request, as Lambda runs them in a snapshotted
environment; and nothing happens without SnapStart."""

from __future__ import annotations

import importlib
import json
import random
import sys
import types
from typing import Any

import pytest

from tags_core.http import snapstart
from tags_core.store import client as db
from tags_tools import template as tpl
from tags_tools.local.invokers import LambdaContext

EVENT = json.loads((tpl.ROOT / "events" / "get_tag.json").read_text())


class Runtime(types.ModuleType):
    """Lambda's `snapshot_restore_py`, recording the hooks a function registers."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.before: list[Any] = []
        self.after: list[Any] = []

    def register_before_snapshot(self, hook: Any) -> None:
        self.before.append(hook)

    def register_after_restore(self, hook: Any) -> None:
        self.after.append(hook)


def test_without_snapstart_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    looked_up: list[str] = []
    assert snapstart.register(looked_up.append) is False
    assert looked_up == [], "the runtime module is not even looked for"
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    assert snapstart.register() is False, "outside Lambda's runtime there is no snapshot_restore_py: no error"


def test_the_hook_prepares_the_function_then_it_answers(table: str, tenant: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    for name in snapstart.WARM_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delitem(sys.modules, "functions.get_tag.app", raising=False)
    db.reset()
    module = importlib.import_module("functions.get_tag.app")  # the initialisation Lambda snapshots
    assert [h.__name__ for h in runtime.before] == ["prepare"] and [h.__name__ for h in runtime.after] == ["refresh"]

    for hook in runtime.before:
        hook()
    assert all(name in sys.modules for name in snapstart.WARM_MODULES)
    assert db.client.cache_info().currsize == 1, "the DynamoDB client is in the snapshot"
    state = random.getstate()
    for hook in runtime.after:
        hook()
    assert random.getstate() != state, "each restored environment draws its own jitter"

    event = {**EVENT, "requestContext": {**EVENT["requestContext"], "authorizer": {
        "tenant": "acme", "role": "read", "key_id": "k1", "principalId": "k1"}},
        "pathParameters": {"tag_id": "01JDTAG0000000000000000999"}, "path": "/tags/01JDTAG0000000000000000999"}
    response = module.lambda_handler(event, LambdaContext(function_name="GetTagFunction"))
    assert response["statusCode"] == 404, response["body"]
    assert json.loads(response["body"])["errors"][0]["code"] == "not_found"
