"""Cold starts: every function of the template (and the floor) in fresh interpreters with Lambda's path, timed
from spawn to the handler module imported and through the first invocation; `-X importtime` of one of them."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tags_tools import template as tpl
from tags_tools.bench.common import FLOOR, FLOOR_CODE, log
from tags_tools.bench.lambda_env import function_environment, run_child
from tags_tools.bench.operations import Op
from tags_tools.bench.state import State

# Runs in a fresh interpreter with Lambda's path. Prints the moments (CLOCK_MONOTONIC, as the parent's
# perf_counter) when the handler module was imported and when the first invocation started and ended.
COLD_CHILD = r"""
import sys, time
target, handler_name, event_path = sys.argv[1:4]
ok = True
if target == "floor":
    import boto3
    boto3.client("dynamodb", region_name="us-east-1")
    ready = call = called = time.perf_counter()
    waited = [0.0]
else:
    import importlib
    module = importlib.import_module(target)
    ready = time.perf_counter()
    import json, os
    event = None
    if event_path != "-":
        with open(event_path) as f:
            event = json.load(f)

    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        aws_request_id = "cold-" + str(time.time_ns())
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "bench"

        def get_remaining_time_in_millis(self):
            return 10000

    waited = [0.0]  # time inside AWS calls (botocore's before-call -> after-call), on the clients tags_core makes
    db = sys.modules.get("tags_core.store.client")
    if db is not None:
        make = db.create_client

        def create_client(*args, **kwargs):
            client = make(*args, **kwargs)
            started = [0.0]

            def before(**_):
                started[0] = time.perf_counter()

            def after(**_):
                waited[0] += time.perf_counter() - started[0]

            client.meta.events.register("before-call", before)
            client.meta.events.register("after-call", after)
            client.meta.events.register("after-call-error", after)
            return client

        db.create_client = create_client
    handler = getattr(module, handler_name)
    call = time.perf_counter()
    result = handler(event, Context()) if event is not None else None  # no event: import only
    called = time.perf_counter()
    if result is None:
        pass
    elif "statusCode" in result:
        ok = 200 <= int(result["statusCode"]) < 300
    elif "policyDocument" not in result:
        ok = result.get("batchItemFailures") == []
import json, os
print("@@BENCH " + json.dumps({"ready": ready, "call": call, "called": called, "waited": waited[0], "ok": ok}),
      flush=True)
os._exit(0)  # exiting is not part of a cold start
"""


@dataclass
class ColdResult:
    name: str  # logical id or FLOOR
    label: str
    imports: list[float] = field(default_factory=list)  # ms, spawn -> handler module imported (floor: client made)
    firsts: list[float] = field(default_factory=list)  # ms, the first invocation
    waits: list[float] = field(default_factory=list)  # ms of the first invocation spent inside AWS calls
    cpu: list[float] = field(default_factory=list)  # ms, the child's user + system CPU time
    failures: int = 0
    note: str = ""

    @property
    def totals(self) -> list[float]:
        """import + first call."""
        return [a + b for a, b in zip(self.imports, self.firsts, strict=False)]

    @property
    def own(self) -> list[float]:
        """import + first call - the time waiting for DynamoDB (moto's latency is not the service's code)."""
        return [a + b - c for a, b, c in zip(self.imports, self.firsts, self.waits, strict=False)]



def cold_phase(specs: dict[str, tpl.FunctionSpec], state: State, ops: list[Op], *, runs: int, site: Path,
               workdir: Path) -> dict[str, ColdResult]:
    service = state.service
    first_op: dict[str, Op] = {}
    for an_op in ops:
        first_op.setdefault(an_op.function, an_op)
    rounds = runs + 1  # round 0 compiles bytecode and warms the page cache: discarded
    events_dir = workdir / "events"
    events_dir.mkdir(exist_ok=True)
    results = {FLOOR: ColdResult(FLOOR, f"floor: `{FLOOR_CODE}`")}
    for logical_id in specs:
        op = first_op.get(logical_id)
        results[logical_id] = ColdResult(logical_id, f"{logical_id} ({op.label})" if op else logical_id,
                                         note="" if op else "no event: import only")
        if op is None:
            continue
        if op.prepare is not None:
            op.prepare(rounds)
        for i in range(rounds):
            (events_dir / f"{logical_id}-{i}.json").write_text(json.dumps(op.event(i)))
    any_spec = next(iter(specs.values()))
    for round_index in range(rounds):
        order = list(results)
        random.Random(round_index).shuffle(order)  # noqa: S311 - an order, not a secret
        log(f"cold: round {round_index}/{runs}" + (" (warm-up, discarded)" if round_index == 0 else ""))
        for name in order:
            result = results[name]
            spec = specs.get(name, any_spec)
            env = function_environment(spec, table=service.table, endpoint=service.endpoint, secret=service.secret,
                                       memory=service.memory, site=site)
            event_path = events_dir / f"{name}-{round_index}.json"
            module = spec.module.rsplit(".", 1)[-1]  # as Lambda imports it: "app" from the function's directory
            event_arg = str(event_path) if event_path.exists() else "-"  # no event: import only
            args = [FLOOR, "-", "-"] if name == FLOOR else [module, spec.handler, event_arg]
            try:
                data, spawned, cpu_ms = run_child([sys.executable, "-S", "-c", COLD_CHILD, *args], env, workdir)
            except RuntimeError as exc:
                result.failures += 1
                result.note = str(exc).splitlines()[-1][:160]
                continue
            if round_index == 0:
                continue
            result.failures += 0 if data["ok"] else 1
            result.imports.append((data["ready"] - spawned) * 1000)
            result.firsts.append((data["called"] - data["call"]) * 1000)
            result.waits.append(data["waited"] * 1000)
            result.cpu.append(cpu_ms)
    return results


def import_profile(spec: tpl.FunctionSpec | None, env: dict[str, str], workdir: Path, event_path: Path | None,
                   repeat: int = 3) -> list[tuple[str, float]]:
    """`python -X importtime` of a cold start (import and first call; or the floor), self time summed by top-level
    package, the minimum of `repeat` runs per package: [(package, ms)], largest first."""
    args = [FLOOR, "-", "-"] if spec is None else [spec.module.rsplit(".", 1)[-1], spec.handler, str(event_path)]
    best: dict[str, float] = {}
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", COLD_CHILD, *args],  # noqa: S603
                              env=env, cwd=workdir, capture_output=True, text=True, timeout=120, check=False)
        by_package: dict[str, float] = {}
        for line in proc.stderr.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if found:
                package = found.group(2).split(".")[0]
                by_package[package] = by_package.get(package, 0.0) + int(found.group(1)) / 1000
        for package, ms in by_package.items():
            best[package] = min(best.get(package, math.inf), ms)
    return sorted(best.items(), key=lambda item: -item[1])
