"""DynamoDB cost: calls and items read, written and returned per operation, at each tenant size."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.common import COST_TABLE, log
from tags_tools.bench.lambda_env import succeeded
from tags_tools.bench.operations import operations
from tags_tools.bench.service import Service, body_of, stdout_to_devnull
from tags_tools.bench.state import State


@dataclass
class Cost:
    calls: int
    breakdown: str
    read: int
    written: int
    returned: int
    ok: bool


def measure(service: Service, function: str, event: dict[str, Any]) -> tuple[Cost, Any]:
    service.meter.reset()
    with stdout_to_devnull():  # every function logs and writes its metrics to stdout, as on Lambda
        result = service.invoke(function, event)
    m = service.meter
    return Cost(sum(m.calls.values()), m.breakdown(), m.read, m.written, m.returned, succeeded(result)), result


LIST_VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("list_tags (first page, limit 20)", {}),
    ("list_tags limit=100", {"limit": "100"}),
    ("list_tags next page (cursor)", {"cursor": "*"}),
    ("list_tags page=3 (offset)", {"page": "3"}),
    ("list_tags q=prefix", {"q": "tag 0001"}),
    ("list_tags type=goal", {"type": "goal"}),
    ("list_tags applies_to=customer (filter)", {"applies_to": "customer"}),
    ("list_tags sort=-created_at", {"sort": "-created_at"}),
)


def cost_phase(service: Service, specs: dict[str, tpl.FunctionSpec], sizes: list[int]
               ) -> dict[int, dict[str, Cost]]:
    service.new_table(COST_TABLE)
    state = State(service)
    state.seed_base("cost")
    costs: dict[int, dict[str, Cost]] = {}
    seeded = len(state.tags)
    for size in sizes:
        if size > seeded:
            log(f"cost: seeding {size - seeded} tags (tenant -> {size})")
            started = time.monotonic()
            state.seed_tags([f"tag {i:06d}" for i in range(seeded, size)], vary=True)
            log(f"cost: seeded in {time.monotonic() - started:.1f}s")
            seeded = size
        log(f"cost: operations at {size} tags")
        found: dict[str, Cost] = {}
        cursor = ""
        for name, variant in LIST_VARIANTS:
            if "ListTagsFunction" not in specs:
                break
            query = dict(variant)
            if query.get("cursor") == "*":
                if not cursor:
                    continue
                query = {"cursor": cursor}
            cost, result = measure(service, "ListTagsFunction", state.event("GET", "/tags", query=query or None))
            found[name] = cost
            if not query:
                cursor = ((body_of(result) or {}).get("meta") or {}).get("next_cursor") or ""
        for op in operations(state, f"c{size}"):
            if op.function not in specs or op.name == "list_tags":
                continue
            if op.prepare is not None:
                op.prepare(1)
            found[op.name], _ = measure(service, op.function, op.event(0))
        costs[size] = found
    return costs

