"""Fixtures of the API tests: the functions' handlers invoked in process with API Gateway REST events.

    gateway        the session's Gateway (template routes, authorizer cache off)
    invoke         invoke(method, path, ...) -> Result: the route's real lambda_handler behind the local gateway
                   (see tests.helpers.gateway_invoker)
    call_counter   the DynamoDB calls made through tags_core.db.client()
    stream         the table's DynamoDB stream, fed to the real stream processor on drain()
    faults         Faults: chosen HTTP attempts of the layer's DynamoDB client fail (throttles, 500s, cancelled
                   transactions), botocore's backoff recorded, not slept
    seed           Seed: a group, a tag in it and a free-standing tag, on two objects (what the fault tests act on)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff

from functions.stream_processor.app import lambda_handler as stream_handler
from tags_tools.local.gateway import Gateway
from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import CallCounter, Invoke, TenantKeys, db, gateway_invoker


@pytest.fixture(scope="session")
def gateway() -> Gateway:
    """The template's routes and authorizer in this process (authorizer results not cached)."""
    return Gateway(authorizer_ttl=0)


@pytest.fixture
def invoke(gateway: Gateway, tenant: TenantKeys) -> Invoke:
    """invoke(method, path, ...) -> Result, as `tenant`'s write key by default (tests.helpers.gateway_invoker)."""
    return gateway_invoker(gateway, tenant)


@pytest.fixture
def call_counter(tenant: TenantKeys) -> Iterator[CallCounter]:
    """Counts the calls made through tags_core.db.client() from here on (the tenant setup is not counted)."""
    counter = CallCounter()
    events = db.client().meta.events
    events.register("before-call.dynamodb", counter.record)
    yield counter
    events.unregister("before-call.dynamodb", counter.record)


@pytest.fixture
def stream(table: str, monkeypatch: pytest.MonkeyPatch) -> StreamPoller:
    """The table's DynamoDB stream, fed to the real stream processor on drain() (the reverse index follows it)."""
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    return StreamPoller(table, stream_handler)


# --- fault injection on the layer's DynamoDB client (test_faults_*) ------------------------------------------------

class _RawBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@dataclass
class Rule:
    operation: str | None  # None: every operation
    code: str
    status: int
    times: int | None  # None: every matching attempt from now on
    skip: int  # let this many matching attempts through first
    when: Callable[[dict[str, Any]], bool] | None  # on the request's JSON body
    reasons: dict[int, dict[str, Any]] | None  # TransactionCanceledException: action index → reason (others None)
    seen: int = 0
    fired: int = 0


TIMEOUT = "ReadTimeout"  # a `fail` code: the attempt times out instead of answering


@dataclass
class Faults:
    """The layer's DynamoDB client, with chosen attempts failing. `attempts` counts every HTTP attempt per
    operation, `calls` every client call, `delays` each backoff botocore computed before a retry (not slept)."""

    rules: list[Rule] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)
    worst_delays: list[float] = field(default_factory=list)  # the same backoffs with the jitter at its maximum

    def fail(self, operation: str | None, code: str = "ProvisionedThroughputExceededException", *,
             times: int | None = None, skip: int = 0, when: Callable[[dict[str, Any]], bool] | None = None,
             reasons: dict[int, dict[str, Any]] | None = None) -> Rule:
        status = 500 if code in ("InternalServerError", "ServiceUnavailable") else 400
        rule = Rule(operation, code, status, times, skip, when, reasons)
        self.rules.append(rule)
        return rule

    def cancel(self, reasons: dict[int, dict[str, Any]], *, times: int | None = None, skip: int = 0,
               when: Callable[[dict[str, Any]], bool] | None = None) -> Rule:
        """TransactWriteItems cancelled, with these reasons at these action indexes (the others: "None")."""
        return self.fail("TransactWriteItems", "TransactionCanceledException", times=times, skip=skip, when=when,
                         reasons=reasons)

    def clear(self) -> None:
        self.rules.clear()

    def reset_counts(self) -> None:
        for counter in (self.attempts, self.calls, self.injected):
            counter.clear()
        self.delays.clear()
        self.worst_delays.clear()

    # botocore hooks

    def record_call(self, model: Any = None, **_: Any) -> None:
        self.calls[model.name if model is not None else "?"] += 1

    def before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        body = json.loads(request.body or b"{}")
        for rule in self.rules:
            if rule.operation not in (None, operation) or (rule.when is not None and not rule.when(body)):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip or (rule.times is not None and rule.fired >= rule.times):
                continue
            rule.fired += 1
            self.injected[operation] += 1
            if rule.code == TIMEOUT:  # no answer in time: what botocore raises when its read timeout passes
                raise ReadTimeoutError(endpoint_url=request.url)
            request.tags_test_fault = True  # moto's handler leaves it alone (see the fixture)
            return self._response(request, rule, body)
        return None

    @staticmethod
    def _response(request: Any, rule: Rule, body: dict[str, Any]) -> AWSResponse:
        payload: dict[str, Any] = {"__type": f"com.amazonaws.dynamodb.v20120810#{rule.code}",
                                   "message": f"injected {rule.code}"}
        if rule.reasons is not None:
            count = len(body.get("TransactItems", []))
            reasons = [rule.reasons.get(i, {"Code": "None"}) for i in range(count)]
            payload = {"__type": payload["__type"], "Message": "Transaction cancelled, please refer cancellation "
                       f"reasons for specific reasons [{', '.join(r['Code'] for r in reasons)}]",
                       "CancellationReasons": reasons}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, rule.status, headers, _RawBody(json.dumps(payload).encode()))


@pytest.fixture
def faults(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """Faults on the layer's client from here on (tenant setup is not affected); backoff recorded, not slept."""
    from moto.core.botocore_stubber import BotocoreStubber  # noqa: PLC0415

    injector = Faults()
    original = BotocoreStubber.__call__

    def moto_unless_injected(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if getattr(request, "tags_test_fault", False):
            return None  # the injected answer stands: the request never reached "DynamoDB"
        return original(self, event_name, request, **kwargs)

    def no_sleep(self: Any, context: Any) -> float:
        injector.delays.append(original_delay(self, context))
        jitter = self._random
        self._random = lambda: 1.0
        try:
            injector.worst_delays.append(original_delay(self, context))
        finally:
            self._random = jitter
        return 0.0

    original_delay = ExponentialBackoff.delay_amount
    monkeypatch.setattr(BotocoreStubber, "__call__", moto_unless_injected)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", no_sleep)
    events = db.client().meta.events
    events.register_first("before-send.dynamodb", injector.before_send)
    events.register("before-call.dynamodb", injector.record_call)
    yield injector
    events.unregister("before-send.dynamodb", injector.before_send)
    events.unregister("before-call.dynamodb", injector.record_call)


@dataclass
class Seed:
    group: str
    tag: str  # "Existing", in the group, on conversation c-1 and customer u-1
    other: str  # "Other", free-standing, on conversation c-1


@pytest.fixture
def seed(invoke: Invoke) -> Seed:
    def ok(method: str, path: str, body: Any = None, status: int = 200) -> Any:
        result = invoke(method, path, body=body)
        assert result.status == status, (method, path, result.json)
        return result.data

    group = ok("POST", "/tag-groups", {"name": "Group A"}, 201)["id"]
    tag = ok("POST", "/tags", {"name": "Existing", "group_id": group}, 201)["id"]
    other = ok("POST", "/tags", {"name": "Other"}, 201)["id"]
    ok("POST", "/conversations/c-1/tags", {"tag_ids": [tag, other]})
    ok("POST", "/customers/u-1/tags", {"tags": ["Existing"]})
    return Seed(group=group, tag=tag, other=other)
