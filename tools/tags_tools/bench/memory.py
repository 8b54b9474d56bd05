"""Memory: the peak RSS of one process per function serving many requests, Lambda's path and environment."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.common import FLOOR, log
from tags_tools.bench.lambda_env import function_environment, run_child
from tags_tools.bench.state import State

RSS_CHILD = r"""
import json, os, sys
target, handler_name, event_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if target == "floor":
    import boto3
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"])

    def call(i):
        client.get_item(TableName=os.environ["TABLE_NAME"], Key={"PK": {"S": "T#bench"}, "SK": {"S": "META"}})
        return True
else:
    import importlib
    handler = getattr(importlib.import_module(target), handler_name)
    with open(event_path) as f:
        event = json.load(f)
    body = event.get("body")

    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        aws_request_id = "rss"
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "bench"

        def get_remaining_time_in_millis(self):
            return 10000

    def call(i):
        if body:
            event["body"] = body.replace("{i}", str(i))
        event["requestContext"]["requestId"] = f"rss-{i}"
        return 200 <= handler(event, Context())["statusCode"] < 300
def peak_kb():  # VmHWM: this process image's peak RSS (ru_maxrss would include the parent's, from before exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
after_import = peak_kb()
errors = sum(0 if call(i) else 1 for i in range(count))
peak = peak_kb()
print("@@BENCH " + json.dumps({"after_import_kb": after_import, "peak_kb": peak, "errors": errors}), flush=True)
os._exit(0)
"""


@dataclass
class RssResult:
    label: str
    after_import_mb: float
    peak_mb: float
    errors: int
    floor: bool = False


def rss_phase(specs: dict[str, tpl.FunctionSpec], state: State, *, requests: int, site: Path,
              workdir: Path) -> list[RssResult]:
    """Peak RSS (VmHWM) of one process per function serving `requests` requests, Lambda's path and env."""
    service = state.service
    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("GetTagFunction", "GET /tags/{tag_id}",
         state.event("GET", "/tags/{tag_id}", {"tag_id": state.tags[0]["id"]})),
        ("ListTagsFunction", "GET /tags", state.event("GET", "/tags")),
        ("CreateTagFunction", "POST /tags (a new name each time)",
         state.event("POST", "/tags", body={"name": "rss tag {i}", "color": "#aabbcc"})),
        (FLOOR, "floor: boto3 client making as many GetItem calls", {}),
    ]
    results = []
    for target, label, event in plans:
        if target != FLOOR and target not in specs:
            continue
        spec = specs.get(target) or next(iter(specs.values()))
        path = workdir / f"rss-{target}.json"
        path.write_text(json.dumps(event))
        env = function_environment(spec, table=service.table, endpoint=service.endpoint, secret=service.secret,
                                   memory=service.memory, site=site)
        module = FLOOR if target == FLOOR else spec.module.rsplit(".", 1)[-1]
        log(f"memory: {label} x{requests}")
        try:
            data, _, _ = run_child([sys.executable, "-S", "-c", RSS_CHILD, module, spec.handler, str(path),
                                    str(requests)], env, workdir)
        except RuntimeError as exc:
            log(f"memory: {label} failed: {exc}")
            continue
        results.append(RssResult(label if target == FLOOR else f"{target} ({label})", data["after_import_kb"] / 1024,
                                 data["peak_kb"] / 1024, data["errors"], floor=target == FLOOR))
    return results

