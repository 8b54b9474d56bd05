"""Warm latency: each operation's handler called in this process, timed in total, inside DynamoDB calls and on its
own; then replayed with DynamoDB's answers recorded, botocore bypassed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tags_tools.bench.common import NOT_WARM, log
from tags_tools.bench.lambda_env import Context, succeeded
from tags_tools.bench.operations import Op, operations
from tags_tools.bench.service import Service, stdout_to_devnull
from tags_tools.bench.state import State


@dataclass
class WarmResult:
    op: Op
    totals: list[float]  # ms
    dynamo: list[float]
    prep: list[float]
    overhead: list[float]
    calls: list[int]
    errors: int
    replayed: list[float] = field(default_factory=list)  # ms: the handler alone, DynamoDB's answers replayed


def warm_phase(service: Service, *, calls: int, warmup: int = 5) -> list[WarmResult]:
    """Each operation on a table of its own, seeded like the others (moto's latency then stays small)."""
    results = []
    meter = service.meter
    index, count = 0, 1
    while index < count:
        service.new_table(f"tags-bench-warm-{index}")
        state = State(service)
        state.seed_base("warm")
        ops = operations(state, "warm")
        op, index, count = ops[index], index + 1, len(ops)
        if op.function not in service.specs or op.function in NOT_WARM:
            continue
        n = calls + warmup
        if op.prepare is not None:
            op.prepare(n + 1)  # the last one for the replayed run
        handler = service.handler(op.function)
        context = Context(f"tags-{op.function}", service.memory)
        totals: list[float] = []
        dynamo: list[float] = []
        prep: list[float] = []
        overhead: list[float] = []
        call_counts: list[int] = []
        errors = 0
        log(f"warm: {op.name} x{calls}")
        with stdout_to_devnull():  # every function logs and writes its metrics to stdout, as on Lambda
            for i in range(n):
                event = op.event(i)
                meter.reset()
                started = time.perf_counter()
                result = handler(event, context)
                elapsed = time.perf_counter() - started
                if not succeeded(result):
                    errors += 1
                if i < warmup:
                    continue
                totals.append(elapsed * 1000)
                in_sdk = meter.seconds + meter.prep_seconds  # the whole client call: botocore's side included
                dynamo.append(in_sdk * 1000)
                prep.append(meter.prep_seconds * 1000)
                overhead.append((elapsed - in_sdk) * 1000)
                call_counts.append(sum(meter.calls.values()))
        replayed = replay_phase(handler, op.event(n), context, calls)
        results.append(WarmResult(op, totals, dynamo, prep, overhead, call_counts, errors, replayed))
    return results


def replay_phase(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], context: Any,
                 calls: int) -> list[float]:
    """The handler's own time without any wait: one call records DynamoDB's answers, then `calls` timed calls
    of the same event get them back at once (copies made beforehand), without botocore. The same work as above
    minus the SDK; what differs from `overhead` is this machine's CPU coming back from waiting on moto."""
    import copy  # noqa: PLC0415
    import gc  # noqa: PLC0415

    from botocore.client import BaseClient  # noqa: PLC0415

    client_class: Any = BaseClient  # every client's calls go through its _make_api_call
    original = client_class._make_api_call
    recorded: list[Any] = []

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original(self, operation, params)
        recorded.append(copy.deepcopy(answer))
        return answer

    client_class._make_api_call = record
    try:
        handler(event, Context("replay"))
    finally:
        client_class._make_api_call = original
    answers = [copy.deepcopy(recorded) for _ in range(calls + 5)]
    turn = [0, 0]

    def replay(self: Any, operation: str, params: dict[str, Any]) -> Any:
        run, index = turn
        turn[1] += 1
        return answers[run][index % max(1, len(recorded))] if recorded else {}

    times: list[float] = []
    client_class._make_api_call = replay
    gc.collect()
    try:
        with stdout_to_devnull():
            for run in range(calls + 5):
                turn[0], turn[1] = run, 0
                started = time.perf_counter()
                handler(event, context)
                if run >= 5:
                    times.append((time.perf_counter() - started) * 1000)
    finally:
        client_class._make_api_call = original
    return times

