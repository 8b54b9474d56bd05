"""The service in the benchmark's process: the functions' handlers with a meter on the DynamoDB client that counts
and times every call (botocore event hooks)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.dynamodb import MotoProcess, create_table
from tags_tools.bench.lambda_env import Context, function_environment


class DynamoMeter:
    """Per request: time inside DynamoDB calls (before-call -> after-call: HTTP round trip and response parsing),
    time botocore spends preparing them (validation, serialisation, signing: provide-client-params ->
    before-call), and the calls with the items they read and wrote."""

    def __init__(self) -> None:
        self.reset()
        self._operation = ""
        self._params: dict[str, Any] = {}
        self._prep_started = 0.0
        self._call_started = 0.0

    def reset(self) -> None:
        self.seconds = 0.0
        self.prep_seconds = 0.0
        self.calls: Counter[str] = Counter()
        self.read = 0
        self.written = 0
        self.returned = 0

    def install(self, client: Any) -> None:
        """Hooks on this client only (its own event emitter), whatever its service."""
        events = client.meta.events
        events.register("provide-client-params", self._on_params)
        events.register("before-call", self._on_before)
        events.register("after-call", self._on_after)
        events.register("after-call-error", self._on_error)

    def _on_params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._prep_started = time.perf_counter()
        self._operation = model.name
        self._params = params

    def _on_before(self, **_: Any) -> None:
        now = time.perf_counter()
        self.prep_seconds += now - self._prep_started
        self._call_started = now

    def _on_error(self, **_: Any) -> None:
        self.seconds += time.perf_counter() - self._call_started
        self.calls[self._operation] += 1

    def _on_after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.seconds += time.perf_counter() - self._call_started
        operation, params = self._operation, self._params
        self.calls[operation] += 1
        if operation == "GetItem":
            self.read += 1
            self.returned += 1 if parsed.get("Item") else 0
        elif operation == "BatchGetItem":
            keys = sum(len(t.get("Keys", [])) for t in params.get("RequestItems", {}).values())
            left = sum(len(t.get("Keys", [])) for t in (parsed.get("UnprocessedKeys") or {}).values())
            self.read += keys - left
            self.returned += sum(len(v) for v in (parsed.get("Responses") or {}).values())
        elif operation in ("Query", "Scan"):
            self.read += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
            self.returned += int(parsed.get("Count", 0))
        elif operation == "TransactGetItems":
            self.read += len(params.get("TransactItems", []))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self.written += 1
        elif operation == "BatchWriteItem":
            total = sum(len(v) for v in params.get("RequestItems", {}).values())
            left = sum(len(v) for v in (parsed.get("UnprocessedItems") or {}).values())
            self.written += total - left
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                if "ConditionCheck" in action:
                    self.read += 1
                else:
                    self.written += 1

    def breakdown(self) -> str:
        return ", ".join(f"{name}x{count}" if count > 1 else name for name, count in sorted(self.calls.items()))



@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Function logs (Powertools writes JSON lines to stdout, as on Lambda) go to /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class Service:
    """The functions' handlers in this process, with the meter on the shared DynamoDB client."""

    def __init__(self, specs: dict[str, tpl.FunctionSpec], moto: MotoProcess, memory: int) -> None:
        self.specs = specs
        self.endpoint = moto.url
        self.seed = moto.seed
        self.secret = "bench-cursor-secret-" + uuid.uuid4().hex
        self.memory = memory
        self.meter = DynamoMeter()
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self.table = ""

    def new_table(self, table: str) -> None:
        """A fresh table, used from now on. moto's Query on an index reads the whole table: small tables keep the
        benchmark fast (the service's own costs are counted, not moto's)."""
        create_table(self.endpoint, table)
        self.use_table(table)

    def use_table(self, table: str) -> None:
        """Every function's environment at once (they do not conflict), then fresh clients with the meter on."""
        env: dict[str, str] = {}
        for spec in self.specs.values():
            env.update(function_environment(spec, table=table, endpoint=self.endpoint, secret=self.secret,
                                            memory=self.memory))
        for name in ("PATH", "HOME", "LANG", "TZ", "PYTHONPATH", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT",
                     "_HANDLER", "AWS_LAMBDA_LOG_GROUP_NAME"):
            env.pop(name, None)
        os.environ.update(env)
        from tags_core.flows import change_events as events  # noqa: PLC0415
        from tags_core.store import client as db  # noqa: PLC0415

        db.reset()
        events.reset()
        self.meter.install(db.client())
        self.meter.install(events.client())  # the stream processor's EventBridge calls count as AWS calls too
        self.table = table

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        if logical_id not in self._handlers:
            spec = self.specs[logical_id]
            self._handlers[logical_id] = getattr(importlib.import_module(spec.module), spec.handler)
        return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return self.handler(logical_id)(event, Context(f"tags-{logical_id}", self.memory))

    @staticmethod
    def repository() -> Any:
        from tags_core.store.repository import Repository  # noqa: PLC0415

        return Repository()


def body_of(result: dict[str, Any]) -> Any:
    return json.loads(result.get("body") or "null")

