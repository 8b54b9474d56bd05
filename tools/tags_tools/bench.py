"""Performance benchmark of the Tags service: `make bench` (or `python -m tags_tools.bench`).

Prints a summary and writes docs/benchmarks.md. Not part of the test suite: performance is measured here, never
asserted in tests. Standard library plus what the project already depends on (boto3, moto, the SAM CLI).

DynamoDB is moto's server over HTTP, in a process of its own. The functions run as on Lambda: in fresh
interpreters started without `site` whose path is the function's code, the layer's code and a directory holding
only what the Lambda Python runtime and the layer provide (boto3 and its dependencies; the layer's requirements),
with the template's environment, Lambda's own variables and dummy credentials.

cold    Every function of template.yaml: the time from spawning the interpreter to the handler module imported,
        then the first invocation with a realistic event; the floor, `import boto3; boto3.client("dynamodb")`,
        in the same rounds (shuffled each round, after one discarded warm-up round that also compiles bytecode).
warm    Each operation's handler called in this process (>= 300 timed calls): p50/p99 of the total, the time
        inside DynamoDB calls (botocore's provide-client-params -> after-call hooks: the whole SDK call) and the
        handler's own overhead (the rest).
cost    DynamoDB calls and items read/written per operation, counted in the same hooks, at 1,000 and 20,000 tags.
memory  Peak RSS of one function's process serving 300 requests.
size    The built layer and each function (sam build), unzipped, without what Lambda's runtime provides.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib
import importlib.metadata
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tags_tools import template as tpl
from tags_tools.apigw_events import rest_event, token_authorizer_event

ROOT = tpl.ROOT
DOC_PATH = ROOT / "docs" / "benchmarks.md"
NOTES_PATH = ROOT / "docs" / "benchmarks-notes.md"  # hand-written; included in the generated file
REGION = "us-east-1"
TENANT = "bench"
API_TABLE = "tags-bench-api"
COST_TABLE = "tags-bench-cost"
RSS_TABLE = "tags-bench-rss"
EVENT_BUS = "tags-bench-bus"
FLOOR = "floor"
FLOOR_CODE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
MARK = "@@BENCH "

TARGET_COLD_RATIO = 1.3
TARGET_OVERHEAD_MS = {"read": 0.3, "write": 0.5}
TARGET_PAGE_RATIO = 1.1
TARGET_RSS_MB = 60.0
TARGET_SIZE_MB = 12.0

# Not API operations: measured cold and for cost, not for warm latency (keeps `make bench` under 5 minutes).
NOT_WARM = ("StreamProcessorFunction", "CommandConsumerFunction")

# What Lambda's Python runtime provides: boto3 and its dependency closure. Not counted in sizes, not shipped.
RUNTIME_ROOTS = ("boto3",)

PEERS = (
    ("Powertools + pydantic \"cookbook\"", "1.3-2.3x (create 2.2x)", "0.6-1.1 ms", "93-98 MB", "31 MB"),
    ("AWS SAM Python REST sample (no validation)", "1.7-1.8x", "0.1-0.4 ms", "58-63 MB", "21 MB"),
)

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.0f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def mb(size: float) -> str:
    return f"{size / 1_000_000:.2f}"


def table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A Markdown table padded to read well in a terminal too. `align`: l or r per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(3, *(len(str(c)) for c in column)) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                                 for c, w, a in zip(cells, widths, align, strict=False)) + " |"

    rule = "|" + "|".join(":" + "-" * (w + 1) if a == "l" else "-" * (w + 1) + ":"
                          for w, a in zip(widths, align, strict=False)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


# --- DynamoDB: moto's server in a process of its own ------------------------------------------------------------

# The local server's DynamoDB (tags_tools/local/dynamodb.py): moto with the fixes of moto_fixes (a transaction copies
# only the items it names, results are dumped as the JSON they already are), so that a write's cost does not grow
# with the table and the benchmark fits in minutes; what DynamoDB calls do and answer stays moto's.
MOTO_CHILD = r"""
import json, sys
from tags_tools.local.dynamodb import EmbeddedDynamoDB
server = EmbeddedDynamoDB(sweep_interval=0)
server.start()
print(server.url, flush=True)
for line in sys.stdin:  # "seed <table> <file of JSON items>": bulk loading without HTTP; EOF: the end
    _, table, path = line.split()
    with open(path) as f:
        server.put_items(table, json.load(f))
    print("seeded", flush=True)
server.stop()
"""


class MotoProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", MOTO_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError("moto server did not start")

    def seed(self, table: str, items: list[dict[str, Any]]) -> None:
        """Put items straight into moto's backend (what BatchWriteItem does, without 1,600 HTTP requests)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(items, handle)
        try:
            self.process.stdin.write(f"seed {table} {handle.name}\n")
            self.process.stdin.flush()
            if self.process.stdout.readline().strip() != "seeded":
                raise RuntimeError("moto did not seed")
        finally:
            os.unlink(handle.name)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def create_table(endpoint: str, name: str) -> None:
    """The template's table without its stream (nothing reads it here; moto's stream bookkeeping slows writes)."""
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    definition = tpl.table_definition()
    definition.pop("StreamSpecification", None)
    client.create_table(TableName=name, **definition)
    ttl = tpl.table_ttl_attribute()
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    with contextlib.suppress(Exception):  # the bus the stream processor publishes to (once per moto)
        boto3.client("events", endpoint_url=endpoint, region_name=REGION).create_event_bus(Name=EVENT_BUS)


# --- the functions' environment, as on Lambda ---------------------------------------------------------------------

def _requirement_names(path: Path) -> list[str]:
    names = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\s;<>=!~\[(]", line, maxsplit=1)[0])
    return names


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots: list[str] | tuple[str, ...]) -> set[str]:
    """Installed distributions that `roots` need (extras excluded), normalised names."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.distribution(name).requires or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    return seen


def lambda_site(workdir: Path) -> Path:
    """A directory with only what a function finds on Lambda besides its code and tags_core: the runtime's boto3
    and the layer's requirements (links to this venv's copies, same versions). The dev venv's extras (awscrt,
    pyOpenSSL, ... which botocore would pick up) are out of reach, as on Lambda."""
    site = workdir / "lambda-site"
    site.mkdir(exist_ok=True)
    for name in dependency_closure([*RUNTIME_ROOTS, *_requirement_names(ROOT / "layers/common/requirements.txt")]):
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            source = Path(str(dist.locate_file(top)))
            if top not in ("..", "__pycache__", "bin") and source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site


def _parameter_defaults() -> dict[str, str]:
    params = tpl.load_template().get("Parameters") or {}
    return {name: str(p["Default"]) for name, p in params.items() if isinstance(p, dict) and "Default" in p}


def function_environment(spec: tpl.FunctionSpec, *, table: str, endpoint: str, secret: str, memory: int,
                         site: Path | None = None) -> dict[str, str]:
    """The template's variables (intrinsics resolved to local stand-ins), Lambda's own, dummy credentials, every
    AWS endpoint pointing at moto. With `site`: PYTHONPATH as on Lambda (function, layer, runtime)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "LANG": "C.UTF-8", "TZ": ":UTC",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0", "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"tags-{spec.logical_id}", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/tags-{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "LAMBDA_TASK_ROOT": str(ROOT / spec.code_uri), "_HANDLER": f"app.{spec.handler}",
    }
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / spec.code_uri), str(ROOT / "layers" / "common"), str(site)])
    defaults = _parameter_defaults()
    stand_ins = {"TABLE_NAME": table, "CURSOR_SECRET": secret, "EVENT_BUS_NAME": EVENT_BUS}
    for name, value in spec.environment.items():
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            env[name] = str(value)
        elif isinstance(value, dict) and "Ref" in value and value["Ref"] in defaults:
            env[name] = defaults[value["Ref"]]
        else:
            env[name] = stand_ins.get(name, f"placeholder-{name.lower()}")
    env.update(TABLE_NAME=table, DYNAMODB_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL_EVENTBRIDGE=endpoint)
    return env


class Context:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory: int = 256) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]bench"
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def succeeded(result: Any) -> bool:
    """A 2xx answer, an Allow policy (authorizer) or no failed record (stream processor, command queue)."""
    if not isinstance(result, dict):
        return False
    if "statusCode" in result:
        return 200 <= int(result["statusCode"]) < 300
    if "policyDocument" in result:
        return True
    return result.get("batchItemFailures") == []


# --- counting and timing DynamoDB calls (botocore event hooks) --------------------------------------------------

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


# --- the service in this process ---------------------------------------------------------------------------------

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


# --- the data each operation needs ---------------------------------------------------------------------------------

@dataclass
class State:
    """A tenant in one table and what the operations work on."""

    service: Service
    tenant: str = TENANT
    key: str = ""
    key_id: str = ""
    tags: list[dict[str, Any]] = field(default_factory=list)  # base tags: [0] get, [1..3] attach, ...
    groups: list[dict[str, Any]] = field(default_factory=list)
    pools: dict[str, list[Any]] = field(default_factory=dict)

    # - seeding through the repository's own item builders (BatchWriteItem, untimed) -

    def principal(self) -> Any:
        from tags_core.domain.identity import Principal  # noqa: PLC0415

        return Principal(tenant=self.tenant, role="write", key_id=self.key_id or "seed")

    def tag_records(self, names: list[str], *, vary: bool = False) -> list[dict[str, Any]]:
        """Tags shaped exactly as the service creates them. `vary`: types and applies_to spread out."""
        from tags_core.domain import tags  # noqa: PLC0415
        from tags_core.domain.models import TagCreate  # noqa: PLC0415

        records = []
        for i, name in enumerate(names):
            data: dict[str, Any] = {"name": name}
            if vary:
                data["type"] = ("tag", "goal", "miss")[i % 3]
                data["applies_to"] = {"conversation": True, "customer": i % 4 != 3, "comment": True}
            records.append(tags._new_record(self.principal(), TagCreate.model_validate(data)))
        return records

    def seed_tags(self, names: list[str], *, vary: bool = False) -> list[dict[str, Any]]:
        repo = self.service.repository()
        return self._seed(self.tag_records(names, vary=vary), (repo._tag_item, repo._name_lock), "tag_count")

    def seed_groups(self, names: list[str]) -> list[dict[str, Any]]:
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.ids import new_id  # noqa: PLC0415
        from tags_core.names import slugify  # noqa: PLC0415

        repo = self.service.repository()
        now = rfc3339_now()
        groups = [{"id": new_id(), "name": n, "name_slug": slugify(n), "description": None, "tag_count": 0,
                   "version": 1, "created_at": now, "updated_at": now, "updated_by": self.key_id} for n in names]
        return self._seed(groups, (repo._group_item, repo._group_lock), "group_count")

    def _seed(self, records: list[dict[str, Any]], makers: tuple[Callable[[str, dict[str, Any]], Any], ...],
              counter: str) -> list[dict[str, Any]]:
        """Each record's items (the record and its name lock) straight into moto, and the tenant's counter."""
        self._batch_write([make(self.tenant, record) for record in records for make in makers])
        self._add_count(counter, len(records))
        return records

    def seed_tag_sets(self, kind: str, object_ids: list[str], tag_ids: list[str]) -> None:
        """Objects carrying `tag_ids`, committed like the service does (usage counts move with the set)."""
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415

        repo = self.service.repository()
        for object_id in object_ids:
            now = rfc3339_now()
            repo.write_tag_set(self.tenant, kind, object_id, old_version=0, tags=dict.fromkeys(tag_ids, now),
                               added=list(tag_ids), removed=[], created=[], actor=self.key_id, rate_limit=None)

    def seed_reverse(self, tag_id: str, kind: str, object_ids: list[str]) -> None:
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415

        repo = self.service.repository()
        for object_id in object_ids:
            repo.write_reverse_entries(self.tenant, kind, object_id, added={tag_id: rfc3339_now()}, removed=[])

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        self.service.seed(self.service.table, items)

    def _add_count(self, attribute: str, n: int) -> None:
        from tags_core.store.keys import meta_key  # noqa: PLC0415

        self.service.repository()._call(
            "update_item", TableName=self.service.table, Key=meta_key(self.tenant),
            UpdateExpression=f"ADD {attribute} :n", ExpressionAttributeValues={":n": {"N": str(n)}})

    def seed_base(self, label: str) -> None:
        """The tenant, a write key, a few tags and groups, an object with tags, reverse index entries."""
        from tags_core.domain import accounts as auth  # noqa: PLC0415

        auth.create_tenant("Bench", tenant_id=self.tenant)
        self.key_id, self.key = auth.create_api_key(self.tenant, "write", "bench")
        self.tags = self.seed_tags([f"{label} base tag {i:02d}" for i in range(12)])
        self.groups = self.seed_groups([f"{label} base group {i:02d}" for i in range(6)])
        self.seed_tag_sets("conversation", ["base-object"], [t["id"] for t in self.tags[:3]])
        self.seed_reverse(self.tags[0]["id"], "conversation", [f"reverse-{i:03d}" for i in range(30)])

    # - events -

    def event(self, method: str, resource: str, params: dict[str, str] | None = None, *,
              query: dict[str, str] | None = None, body: Any = None, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:
        """A REST proxy event as API Gateway sends it for this tenant's write key."""
        path = resource
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        all_headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate, br",
            "Authorization": f"Bearer {self.key}",
            "CloudFront-Forwarded-Proto": "https",
            "Host": "tagslocal1.execute-api.us-east-1.amazonaws.com",
            "User-Agent": "tags-bench/1.0",
            "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            "X-Forwarded-For": "203.0.113.10",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return rest_event(method, path, resource=resource, path_parameters=params, headers=all_headers,
                          query=query, body=None if body is None else json.dumps(body),
                          authorizer={"tenant": self.tenant, "role": "write", "key_id": self.key_id},
                          principal_id=self.key_id)

    def sqs_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """One message of the command queue, as Lambda's SQS event source delivers it."""
        text = json.dumps(body)
        now_ms = str(int(time.time() * 1000))
        return {"Records": [{
            "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": text,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms, "SenderId": "AIDABENCH",
                           "ApproximateFirstReceiveTimestamp": now_ms},
            "messageAttributes": {}, "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:tags-commands",
            "awsRegion": REGION,
        }]}

    def stream_event(self, object_id: str) -> dict[str, Any]:
        """One INSERT of an object's tag set, as Lambda's DynamoDB stream event source delivers it."""
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.store import codec as db  # noqa: PLC0415
        from tags_core.store.keys import tag_set_key  # noqa: PLC0415

        keys = tag_set_key(self.tenant, "conversation", object_id)
        image = {**keys, **db.to_item({"item_type": "tag_set", "tenant": self.tenant, "kind": "conversation",
                                       "object_id": object_id, "tags": {self.tags[0]["id"]: rfc3339_now()},
                                       "version": 1, "updated_at": rfc3339_now(), "updated_by": self.key_id})}
        return {"Records": [{
            "eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {"ApproximateCreationDateTime": int(time.time()), "Keys": keys, "NewImage": image,
                         "SequenceNumber": str(random.randrange(10**20, 10**21)),  # noqa: S311
                         "SizeBytes": len(json.dumps(image)), "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{self.service.table}/stream/2026-01-01T"
                              "00:00:00.000",
        }]}


@dataclass
class Op:
    """One operation of the service: which function serves it and how to build its i-th event."""

    name: str
    function: str  # logical id
    kind: str  # "read" | "write"
    label: str  # "GET /tags/{tag_id}"
    event: Callable[[int], dict[str, Any]]
    prepare: Callable[[int], None] | None = None  # make what n events need (untimed)


def operations(s: State, run: str) -> list[Op]:
    """Every operation, reads first (moto's Query scans its whole table: keep it small while timing reads)."""
    t, g = s.tags, s.groups
    colors = ("#112233", "#445566")

    def pool(name: str, n: int, make: Callable[[int], list[Any]]) -> None:
        s.pools[name] = make(n)

    def prepare_tags(name: str) -> Callable[[int], None]:
        return lambda n: pool(name, n, lambda k: s.seed_tags([f"{run} {name} {i:04d}" for i in range(k)]))

    def prepare_objects(name: str, tag_ids: list[str]) -> Callable[[int], None]:
        def make(n: int) -> list[str]:
            objects = [f"{run}-{name}-{i:04d}" for i in range(n)]
            s.seed_tag_sets("conversation", objects, tag_ids)
            return objects
        return lambda n: pool(name, n, make)

    return [
        Op("get_tag", "GetTagFunction", "read", "GET /tags/{tag_id}",
           lambda i: s.event("GET", "/tags/{tag_id}", {"tag_id": t[0]["id"]})),
        Op("list_tags", "ListTagsFunction", "read", "GET /tags",
           lambda i: s.event("GET", "/tags")),
        Op("get_group", "GetGroupFunction", "read", "GET /tag-groups/{group_id}",
           lambda i: s.event("GET", "/tag-groups/{group_id}", {"group_id": g[0]["id"]})),
        Op("list_groups", "ListGroupsFunction", "read", "GET /tag-groups",
           lambda i: s.event("GET", "/tag-groups")),
        Op("list_object_tags", "ListObjectTagsFunction", "read", "GET /{kind}/{object_id}/tags",
           lambda i: s.event("GET", "/{kind}/{object_id}/tags", {"kind": "conversations", "object_id": "base-object"})),
        Op("list_tag_objects", "ListTagObjectsFunction", "read", "GET /tags/{tag_id}/objects",
           lambda i: s.event("GET", "/tags/{tag_id}/objects", {"tag_id": t[0]["id"]})),
        Op("authorizer", "AuthorizerFunction", "read", "TOKEN authorizer",
           lambda i: token_authorizer_event(f"Bearer {s.key}", "GET", "/tags")),
        Op("create_tag", "CreateTagFunction", "write", "POST /tags",
           lambda i: s.event("POST", "/tags", body={"name": f"{run} created {i:04d}", "color": "#aabbcc",
                                                     "applies_to": {"customer": False}})),
        Op("create_tag+idempotency", "CreateTagFunction", "write", "POST /tags + Idempotency-Key",
           lambda i: s.event("POST", "/tags", body={"name": f"{run} idempotent {i:04d}"},
                             headers={"Idempotency-Key": f"{run}-{i}-{uuid.uuid4().hex}"})),
        Op("update_tag", "UpdateTagFunction", "write", "PATCH /tags/{tag_id}",
           lambda i: s.event("PATCH", "/tags/{tag_id}", {"tag_id": t[4]["id"]}, body={"color": colors[i % 2]})),
        Op("replace_tag", "ReplaceTagFunction", "write", "PUT /tags/{tag_id}",
           lambda i: s.event("PUT", "/tags/{tag_id}", {"tag_id": t[5]["id"]},
                             body={"name": t[5]["name"], "description": f"replaced {i % 2}", "type": "goal"})),
        Op("delete_tag", "DeleteTagFunction", "write", "DELETE /tags/{tag_id}",
           lambda i: s.event("DELETE", "/tags/{tag_id}", {"tag_id": s.pools["delete_tag"][i]["id"]}),
           prepare_tags("delete_tag")),
        Op("merge_tag", "MergeTagFunction", "write", "POST /tags/{tag_id}/merge",
           lambda i: s.event("POST", "/tags/{tag_id}/merge", {"tag_id": s.pools["merge_tag"][i]["id"]},
                             body={"into": t[6]["id"]}),
           prepare_tags("merge_tag")),
        Op("create_group", "CreateGroupFunction", "write", "POST /tag-groups",
           lambda i: s.event("POST", "/tag-groups", body={"name": f"{run} group {i:04d}", "description": "bench"})),
        Op("update_group", "UpdateGroupFunction", "write", "PATCH /tag-groups/{group_id}",
           lambda i: s.event("PATCH", "/tag-groups/{group_id}", {"group_id": g[1]["id"]},
                             body={"description": f"described {i % 2}"})),
        Op("delete_group", "DeleteGroupFunction", "write", "DELETE /tag-groups/{group_id}",
           lambda i: s.event("DELETE", "/tag-groups/{group_id}", {"group_id": s.pools["delete_group"][i]["id"]}),
           lambda n: pool("delete_group", n, lambda k: s.seed_groups([f"{run} doomed {i:04d}" for i in range(k)]))),
        Op("append_object_tags", "AppendObjectTagsFunction", "write", "POST /{kind}/{object_id}/tags",
           lambda i: s.event("POST", "/{kind}/{object_id}/tags",
                             {"kind": "conversations", "object_id": s.pools["append"][i]},
                             body={"tag_ids": [t[2]["id"], t[3]["id"]]}),
           prepare_objects("append", [t[1]["id"]])),
        Op("replace_object_tags", "ReplaceObjectTagsFunction", "write", "PUT /{kind}/{object_id}/tags",
           lambda i: s.event("PUT", "/{kind}/{object_id}/tags",
                             {"kind": "conversations", "object_id": s.pools["replace"][i]},
                             body={"tag_ids": [t[2]["id"], t[3]["id"]]}),
           prepare_objects("replace", [t[1]["id"], t[2]["id"]])),
        Op("remove_object_tag", "RemoveObjectTagFunction", "write", "DELETE /{kind}/{object_id}/tags/{tag_id}",
           lambda i: s.event("DELETE", "/{kind}/{object_id}/tags/{tag_id}",
                             {"kind": "conversations", "object_id": s.pools["remove"][i], "tag_id": t[1]["id"]}),
           prepare_objects("remove", [t[1]["id"], t[2]["id"]])),
        Op("stream_processor", "StreamProcessorFunction", "write", "table stream record",
           lambda i: s.stream_event(f"{run}-stream-{i:04d}")),
        Op("command_consumer", "CommandConsumerFunction", "write", "command queue message (add 1 tag)",
           lambda i: s.sqs_event({"tenant": s.tenant, "kind": "conversations", "object_id": f"{run}-cmd-{i:04d}",
                                  "add": [t[0]["id"]]})),
        Op("batch_create_tags", "BatchCreateTagsFunction", "write", "POST /tags/batch (5 names)",
           lambda i: s.event("POST", "/tags/batch", body={"tags": [f"{run} batch {i:04d}-{k}" for k in range(5)]})),
    ]


# --- cold init ---------------------------------------------------------------------------------------------------

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
    result = handler(event, Context())
    called = time.perf_counter()
    if "statusCode" in result:
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


def run_child(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> tuple[dict[str, Any],
                                                                                                   float, float]:
    """Run a child to its end: (its last @@BENCH record, the parent's perf_counter at spawn, its CPU time in ms)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        spawned = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)  # noqa: S603
        while True:  # wait4 rather than Popen.wait: it also gives the child's CPU time
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - spawned > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise RuntimeError("child timed out")
            time.sleep(0.002)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        records = [line for line in out.read().splitlines() if line.startswith(MARK)]
        if proc.returncode != 0 or not records:
            raise RuntimeError(f"child failed ({proc.returncode}): {err.read().strip()[-600:]}")
    return json.loads(records[-1][len(MARK):]), spawned, (usage.ru_utime + usage.ru_stime) * 1000


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
            args = [FLOOR, "-", "-"] if name == FLOOR else [module, spec.handler, str(event_path)]
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
# --- warm latency ---------------------------------------------------------------------------------------------------

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
        with stdout_to_devnull() if op.function == "AuthorizerFunction" else contextlib.nullcontext():
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


# --- DynamoDB cost -------------------------------------------------------------------------------------------------

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
    with stdout_to_devnull() if function == "AuthorizerFunction" else contextlib.nullcontext():
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


# --- memory --------------------------------------------------------------------------------------------------------

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


# --- sizes ---------------------------------------------------------------------------------------------------------

@dataclass
class SizeResult:
    how: str
    layer_total: int = 0
    layer_counted: int = 0
    excluded: list[tuple[str, int]] = field(default_factory=list)  # (distribution, bytes) the runtime provides
    packages: list[tuple[str, int]] = field(default_factory=list)  # (distribution or entry, bytes), largest first
    functions: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def largest_deploy(self) -> int:
        return self.layer_counted + max(self.functions.values(), default=0)


def _tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def start_build() -> subprocess.Popen[str] | None:
    """`sam build` (scripts/sam_build.sh) in the background unless .aws-sam/build is newer than the sources."""
    build_dir = ROOT / ".aws-sam" / "build"
    marker = build_dir / "template.yaml"
    sources = [ROOT / "template.yaml", *(p for base in ("layers", "functions") for p in (ROOT / base).rglob("*")
                                         if p.is_file() and "__pycache__" not in p.parts)]
    if marker.is_file() and marker.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return None
    log("size: sam build (scripts/sam_build.sh) in the background")
    sam = ROOT / ".venv" / "bin" / "sam"
    env = {**os.environ, **({"SAM": str(sam)} if sam.exists() else {})}
    return subprocess.Popen([str(ROOT / "scripts" / "sam_build.sh")], cwd=ROOT, env=env, text=True,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def size_phase(specs: dict[str, tpl.FunctionSpec], build: subprocess.Popen[str] | None) -> SizeResult:
    how = "the existing .aws-sam/build (newer than the sources)"
    if build is not None:
        output, _ = build.communicate(timeout=600)
        if build.returncode != 0:
            return SizeResult("", error=f"sam build failed: {output.strip()[-600:]}")
        how = "`scripts/sam_build.sh` run by the benchmark"
    build_dir = ROOT / ".aws-sam" / "build"
    layer = build_dir / "CommonLayer"
    python_dir = layer / "python" if (layer / "python").is_dir() else layer
    owners: dict[str, str] = {}  # top-level entry -> distribution
    for info in python_dir.glob("*.dist-info"):
        name = re.search(r"^Name: (.+)$", (info / "METADATA").read_text(errors="replace"), re.MULTILINE)
        dist = _norm(name.group(1).strip() if name else info.name.split("-")[0])
        owners[info.name] = dist
        for line in (info / "RECORD").read_text(errors="replace").splitlines() if (info / "RECORD").exists() else []:
            top = line.split(",", 1)[0].split("/", 1)[0]
            if top and top != "..":
                owners.setdefault(top, dist)
    sizes: Counter[str] = Counter()
    for entry in layer.rglob("*"):
        if entry.is_file() or entry.is_symlink():
            relative = entry.relative_to(python_dir) if python_dir in entry.parents else entry.relative_to(layer)
            sizes[owners.get(relative.parts[0], relative.parts[0])] += entry.lstat().st_size
    runtime = dependency_closure(RUNTIME_ROOTS)
    excluded = sorted(((d, s) for d, s in sizes.items() if d in runtime), key=lambda x: -x[1])
    packages = sorted(((d, s) for d, s in sizes.items() if d not in runtime), key=lambda x: -x[1])
    functions = {logical_id: _tree_size(build_dir / logical_id) for logical_id in specs
                 if (build_dir / logical_id).is_dir()}
    total = sum(sizes.values())
    return SizeResult(how, total, total - sum(s for _, s in excluded), excluded, packages, functions)


# --- the report ----------------------------------------------------------------------------------------------------

@dataclass
class Report:
    started: dt.datetime
    seconds: float
    args: argparse.Namespace
    memory: int
    architectures: list[str]
    cold: dict[str, ColdResult]
    profiled: str
    profile: dict[str, list[tuple[str, float]]]  # "floor" / the profiled function -> [(package, ms)]
    warm: list[WarmResult]
    cost: dict[int, dict[str, Cost]]
    rss: list[RssResult]
    size: SizeResult


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    memory = ""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError):
        load = "; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = []
    for dist in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
    return {"host": f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}{load}",
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "versions": ", ".join(versions)}


def _runtime() -> str:
    return str(((tpl.load_template().get("Globals") or {}).get("Function") or {}).get("Runtime", "?"))


def render(r: Report) -> tuple[str, str]:
    """(the Markdown document, the terminal summary)."""
    info = machine()
    floor = r.cold[FLOOR]
    floor_ms, floor_cpu = median(floor.imports), median(floor.cpu)
    cold_rows, ratios = [], []  # ratios: (name, own / floor, total / floor, CPU / floor CPU)
    for name, c in r.cold.items():
        own, total = median(c.own), median(c.totals)
        cpu_ratio = median(c.cpu) / floor_cpu
        if name != FLOOR and c.firsts:
            ratios.append((name, own / floor_ms, total / floor_ms, cpu_ratio))
        cold_rows.append([c.label, fmt(median(c.imports)), fmt(median(c.firsts)) if name != FLOOR else "-",
                          fmt(median(c.waits)) if name != FLOOR else "-", fmt(own), f"{own / floor_ms:.2f}",
                          f"{total / floor_ms:.2f}", fmt(median(c.cpu), 0), f"{cpu_ratio:.2f}", str(len(c.imports)),
                          (f"{c.failures} failed; " if c.failures else "") + c.note])
    worst = max(ratios, key=lambda x: x[1]) if ratios else ("-", math.nan, math.nan, math.nan)
    over = [name for name, ratio, _, _ in ratios if ratio > TARGET_COLD_RATIO]

    warm_rows: list[list[str]] = []
    worst_overhead: dict[str, tuple[str, float]] = {}
    for wr in r.warm:
        over_p50 = median(wr.overhead)
        limit = TARGET_OVERHEAD_MS[wr.op.kind]
        if wr.op.function.startswith(("Stream", "CommandConsumer", "Authorizer")):
            target = "(not an API operation)"
        else:
            target = f"<= {limit} {verdict(over_p50 <= limit)}"
            if over_p50 > worst_overhead.get(wr.op.kind, ("", -1.0))[1]:
                worst_overhead[wr.op.kind] = (wr.op.name, over_p50)
        warm_rows.append([wr.op.name, wr.op.label, fmt(median(wr.totals), 2), fmt(percentile(wr.totals, 99), 2),
                          fmt(median(wr.dynamo), 2), fmt(over_p50, 2), fmt(percentile(wr.overhead, 99), 2),
                          fmt(median(wr.replayed), 2) if wr.replayed else "-", fmt(median(wr.prep), 2),
                          fmt(median([float(c) for c in wr.calls]), 0), str(len(wr.totals)),
                          str(wr.errors) if wr.errors else "", target])

    sizes = sorted(r.cost)
    small, big = (sizes[0], sizes[-1]) if sizes else (0, 0)
    cost_rows, page_ratios = [], []
    for name, a in (r.cost.get(small) or {}).items():
        b = r.cost[big].get(name)
        ratio = (b.read / a.read) if b is not None and a.read else (1.0 if b is not None and not b.read else math.nan)
        if name.startswith("list_tags"):  # the lists whose size grows with the tenant's tags
            page_ratios.append((name, ratio))
        cost_rows.append([name, a.breakdown or "-", str(a.read), str(a.written), str(a.returned),
                          str(b.read) if b else "n/a", str(b.written) if b else "n/a", str(b.returned) if b else "n/a",
                          fmt(ratio, 2), "" if a.ok and (b is None or b.ok) else "error answer"])
    worst_page = max(page_ratios, key=lambda x: x[1]) if page_ratios else ("-", math.nan)

    rss_peak = max((x.peak_mb for x in r.rss if not x.floor), default=math.nan)
    floor_rss = next((x.peak_mb for x in r.rss if x.floor), math.nan)
    s = r.size

    targets = [
        ["cold start / floor: import + first invocation, DynamoDB wait excluded (worst function)",
         f"<= {TARGET_COLD_RATIO}", f"{worst[1]:.2f} ({worst[0]})", verdict(not over),
         (f"{len(over)} of {len(ratios)} over; worst "
          f"+{(worst[1] - TARGET_COLD_RATIO) * floor_ms:.0f} ms" if over else f"all {len(ratios)} functions")
         + f"; with the wait: worst {max(x[2] for x in ratios):.2f}; CPU time: worst {max(x[3] for x in ratios):.2f}"],
    ]
    for kind in ("read", "write"):
        name, value = worst_overhead.get(kind, ("-", math.nan))
        limit = TARGET_OVERHEAD_MS[kind]
        targets.append([f"handler overhead p50, API {kind}s (worst operation)", f"<= {limit} ms",
                        f"{value:.2f} ms ({name})", verdict(value <= limit),
                        "" if value <= limit else f"+{value - limit:.2f} ms ({value / limit:.1f}x)"])
    targets.append([f"items read per tag list page, {big:,} / {small:,} tags (worst variant)",
                    f"<= {TARGET_PAGE_RATIO}",
                    f"{worst_page[1]:.2f} ({worst_page[0]})", verdict(worst_page[1] <= TARGET_PAGE_RATIO), ""])
    targets.append([f"peak RSS serving {r.args.calls} requests (worst function)", f"<= {TARGET_RSS_MB:.0f} MB",
                    f"{rss_peak:.1f} MB", verdict(rss_peak <= TARGET_RSS_MB),
                    f"boto3 floor alone {floor_rss:.1f} MB" if rss_peak <= TARGET_RSS_MB
                    else f"+{rss_peak - TARGET_RSS_MB:.1f} MB (boto3 floor alone {floor_rss:.1f} MB)"])
    if s.error:
        targets.append(["layer + largest function, unzipped, without boto3", f"<= {TARGET_SIZE_MB:.0f} MB",
                        "not measured", "n/a", s.error[:120]])
    else:
        size_ok = s.largest_deploy <= TARGET_SIZE_MB * 1_000_000
        targets.append(["layer + largest function, unzipped, without boto3", f"<= {TARGET_SIZE_MB:.0f} MB",
                        f"{mb(s.largest_deploy)} MB", verdict(size_ok),
                        "" if size_ok else f"+{mb(s.largest_deploy - TARGET_SIZE_MB * 1_000_000)} MB"])
    target_table = table(["target", "goal", "measured", "result", "detail"], targets, "lllll")
    cold_headers = ["function (first event)", "import", "first call", "in AWS calls", "import + first - AWS",
                    "ratio", "ratio with AWS", "CPU", "CPU ratio", "runs", "note"]
    warm_headers = ["operation", "route", "p50", "p99", "AWS calls p50", "overhead p50", "overhead p99",
                    "replayed p50", "SDK prep p50", "calls", "n", "errors", "target (ms)"]

    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(f"Generated by `make bench` (`python -m tags_tools.bench --runs {r.args.runs} --calls {r.args.calls} "
      f"--tenant-sizes {','.join(map(str, sizes))}`) on {r.started:%Y-%m-%d %H:%M} UTC in {r.seconds:.0f} s. "
      "Do not edit: run `make bench` again. The notes at the end come from `docs/benchmarks-notes.md`.\n")
    w(f"- Machine: {info['host']}")
    w(f"- Python: {info['python']} (the functions run {_runtime()} on Lambda); {info['versions']}")
    w("- DynamoDB: moto's server over HTTP on 127.0.0.1 in a process of its own. DynamoDB latencies are moto's; "
      "the handler overhead, the call counts and the cold starts are the service's.")
    w("- Reproduce: `make bench` on a clone (Python >= 3.11 and a python3.13 for `sam build`, as for `make test`).\n")
    w("## Targets\n")
    w(target_table + "\n")
    w("## Cold start\n")
    w(f"Median of {r.args.runs} fresh processes per row; every round runs the floor and every function in a "
      "shuffled order (after one discarded warm-up round that also writes bytecode, as a deployment with compiled "
      "modules has it). Each process is started as Lambda starts a function: `python -S`, the path being the "
      "function's directory, the layer's `tags_core` and a directory with only boto3 (and its dependencies) and "
      "the layer's requirements; the template's environment with Lambda's own variables and dummy credentials. "
      "`import` runs from spawning the interpreter to the handler module imported (interpreter start-up "
      "included, exit not); `first call` is the first invocation with a realistic event, against DynamoDB over "
      "HTTP (the functions create their DynamoDB client then), of which `in AWS calls` is the time inside botocore "
      "calls (round trips to moto, whose latency is not DynamoDB's nor the service's); `ratio` is import + first "
      "call - that wait, over the floor, the target's measure; `ratio with AWS` keeps the wait. `CPU` is the "
      "process's user + system time, a check that holds on a busy machine. All times in ms.\n")
    w(f"Floor, `{FLOOR_CODE}` in the same environment: **{floor_ms:.1f} ms** (CPU {floor_cpu:.0f} ms).\n")
    w(table(cold_headers, cold_rows, "lrrrrrrrrrl") + "\n")
    if r.profile:
        w(f"### Where a cold start goes: {r.profiled} against the floor\n")
        w("`python -X importtime` of the same cold start (import and first invocation), self time of every module "
          "summed by top-level package, the minimum of 3 runs per package (importtime itself adds time). "
          "Packages over 1 ms.\n")
        names = list(r.profile)
        values = {n: dict(r.profile[n]) for n in names}
        packages = sorted({p for n in names for p, ms in r.profile[n] if ms >= 1.0},
                          key=lambda p: -max(values[n].get(p, 0.0) for n in names))
        rows = [[p, *(fmt(values[n].get(p, 0.0)) for n in names)] for p in packages]
        rows.append(["all imports", *(fmt(sum(values[n].values())) for n in names)])
        w(table(["package", *names], rows, "l" + "r" * len(names)) + "\n")
    w("## Warm latency and handler overhead\n")
    w(f"{r.args.calls} timed calls per operation after 5 untimed ones, each handler called in the benchmark's "
      "process with an API Gateway proxy event (full request validation on). `AWS calls` is the time inside the "
      "DynamoDB (and EventBridge) client calls, from botocore's `provide-client-params` to its `after-call`: "
      "botocore's request preparation (`SDK prep`: parameter validation, endpoint resolution, serialisation), the "
      "HTTP round trip to moto with signing, moto's work, and response parsing; `overhead` = total - AWS calls: "
      "everything the handler does itself (event parsing, routing, validation, domain rules, item conversion, "
      "response). `SDK prep` is reported so that botocore's client-side share stays visible. `replayed`: the "
      "same handler and event, 300 more calls in which DynamoDB's answers (recorded from one real call) come back "
      "at once, botocore bypassed: the handler's own work with no wait in it. The gap between `replayed` and "
      "`overhead` is not work: on this machine code that runs right after a few ms of waiting runs 2-3x slower "
      "(a 3 ms sleep between replayed calls alone makes `get_tag` 0.07 -> 0.18 ms). Milliseconds. "
      "Writes succeed every time (unique names, alternating values, pre-seeded tags, groups and objects to "
      "delete or detach, a fresh object per attach so the per-object write limit is never reached).\n")
    w(table(warm_headers, warm_rows, "llrrrrrrrrrrl") + "\n")
    w("## DynamoDB calls and items per operation\n")
    w(f"One call of each operation with {small:,} and with {big:,} tags in the tenant (types and applies_to "
      "spread out), counted in botocore's hooks. `read`: items DynamoDB reads and bills (GetItem 1, found or not; "
      "Query its ScannedCount; BatchGetItem its keys; a transaction's ConditionCheck); `written`: puts, updates "
      "and deletes, in transactions and batches too (index writes not counted); `returned`: items that came back. "
      f"moto's ConsumedCapacity is a constant, so it is not used. `ratio`: items read at {big:,} / at {small:,}.\n")
    w(table(["operation", "calls", f"read @{small:,}", "written", "returned", f"read @{big:,}", "written",
             "returned", "ratio", "note"], cost_rows, "llrrrrrrrl") + "\n")
    w("## Memory\n")
    w(f"Peak RSS (`VmHWM`) of one process importing one function and serving {r.args.calls} requests, "
      "DynamoDB out of process, Lambda's path as above; the floor makes as many GetItem calls with boto3. Lambda's "
      "runtime client adds a few MB on top.\n")
    w(table(["process", "after import MB", "peak MB", "errors"],
            [[x.label, fmt(x.after_import_mb), fmt(x.peak_mb), str(x.errors)] for x in r.rss], "lrrr") + "\n")
    w("## Size\n")
    if s.error:
        w(f"Not measured: {s.error}\n")
    else:
        w(f"`sam build` output ({s.how}), unzipped, bytes of every file. What Lambda's Python runtime provides "
          "(boto3 and its dependencies) is not counted.\n")
        rows = [["layer (CommonLayer), all files", mb(s.layer_total)], ["layer, counted", mb(s.layer_counted)]]
        rows += [[f"not counted: {d} (in the runtime)", mb(size)] for d, size in s.excluded]
        rows += [[f"function {name}", mb(size)] for name, size in sorted(s.functions.items())]
        rows += [["layer + largest function (what one function deploys)", mb(s.largest_deploy)]]
        w(table(["what", "MB"], rows, "lr") + "\n")
        w("Largest entries of the layer:\n")
        w(table(["package", "MB", "share"], [[d, mb(size), f"{size / max(1, s.layer_counted) * 100:.0f}%"]
                                             for d, size in s.packages[:8]], "lrr") + "\n")
    w("## Peers\n")
    w("Measured by the issue's author on this machine (Python 3.11, moto, medians); this run in the last row.\n")
    overheads = [median(x.overhead) for x in r.warm if not x.op.function.startswith(("Stream", "Command", "Auth"))]
    peers = [list(p) for p in PEERS]
    peers.append(["this service", f"{min(x[1] for x in ratios):.2f}-{max(x[1] for x in ratios):.2f}x "
                  f"({min(x[2] for x in ratios):.2f}-{max(x[2] for x in ratios):.2f}x with moto's latency)"
                  if ratios else "n/a", f"{min(overheads):.2f}-{max(overheads):.2f} ms" if overheads else "n/a",
                  f"{min(x.peak_mb for x in r.rss if not x.floor):.0f}-{rss_peak:.0f} MB" if r.rss else "n/a",
                  f"{mb(s.largest_deploy)} MB" if not s.error else "n/a"])
    w(table(["service", "cold start / floor", "handler overhead p50", "peak RSS", "code + layer"], peers,
            "lllll") + "\n")
    w(_memory_section(r, worst, floor_ms, rss_peak))
    if NOTES_PATH.is_file():
        w(NOTES_PATH.read_text().strip() + "\n")
    document = "\n".join(out).rstrip() + "\n"
    summary = "\n\n".join([
        f"Benchmarks ({r.seconds:.0f} s); floor {floor_ms:.1f} ms; written to {r.args.output}",
        target_table, table(cold_headers[:10], [row[:10] for row in cold_rows], "lrrrrrrrrr"),
        table(["operation", "p50", "p99", "AWS calls p50", "overhead p50", "replayed p50", "errors"],
              [[x[0], x[2], x[3], x[4], x[5], x[7], x[11]] for x in warm_rows], "lrrrrrr"),
        table(["operation", f"read @{small}", f"read @{big}", "ratio"], [[x[0], x[2], x[5], x[8]] for x in cost_rows],
              "lrrr"),
    ])
    return document, summary


def _memory_section(r: Report, worst: tuple[str, float, float, float], floor_ms: float, rss_peak: float) -> str:
    cold_ms = worst[2] * floor_ms
    overheads = [median(x.overhead) for x in r.warm]
    overhead = max(overheads) if overheads else math.nan
    rows = []
    for size in (128, 256, 512, 1024, 1769):
        factor = max(1.0, 1769 / size)
        rows.append([f"{size} MB" + (" (template)" if size == r.memory else ""), f"{min(1.0, size / 1769):.2f}",
                     f"~{cold_ms * factor:,.0f}", f"~{overhead * factor:.1f}", f"{size / 128:.0f}x"])
    return "\n".join([
        "## Memory size and architecture\n",
        f"The template sets `MemorySize: {r.memory}` and `Architectures: [{', '.join(r.architectures)}]`.\n",
        f"- Memory: the largest peak RSS above is {rss_peak:.0f} MB; {r.memory} MB leaves "
        f"{r.memory - rss_peak:.0f} MB (Lambda's runtime client takes a few).",
        "- CPU: Lambda gives CPU in proportion to memory, one vCPU at 1,769 MB. The figures here are one full core "
        "of this machine, so CPU-bound time grows by about 1,769 / MemorySize below one vCPU (an estimate: "
        "Lambda's cores are not this machine's). This run's slowest cold start and largest warm overhead, scaled:\n",
        table(["memory", "vCPU share", "slowest cold start ms (est.)", "largest warm overhead ms (est.)",
               "price per ms vs 128 MB"], rows, "lrrrr") + "\n",
    ])


# --- main ------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tags_tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per function for cold starts (7)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per operation; RSS requests (300)")
    parser.add_argument("--tenant-sizes", default="1000,20000", help="tags in the tenant for the cost table")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="the Markdown file to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        print("bench: needs Linux (child and parent timestamps on one CLOCK_MONOTONIC)", file=sys.stderr)
        return 2
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    template = tpl.load_template()
    specs = tpl.functions(template)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    memory = int(globals_.get("MemorySize", 128))
    architectures = [str(a) for a in globals_.get("Architectures") or ["x86_64"]]
    sizes = sorted({int(x) for x in args.tenant_sizes.split(",") if x.strip()})

    import logging  # noqa: PLC0415

    logging.getLogger("botocore").setLevel(logging.WARNING)
    sys.modules.setdefault("awscrt", None)  # type: ignore[arg-type] # not in Lambda's runtime; botocore would use it
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION})
    moto = MotoProcess()
    log(f"moto server at {moto.url}; {len(specs)} functions in the template")
    try:
        with tempfile.TemporaryDirectory(prefix="tags-bench-") as tmp:
            workdir = Path(tmp)
            site = lambda_site(workdir)
            service = Service(specs, moto, memory)
            service.new_table(API_TABLE)
            state = State(service)
            state.seed_base("api")

            cold = cold_phase(specs, state, operations(state, "cold"), runs=args.runs, site=site, workdir=workdir)
            profiled = "GetTagFunction" if "GetTagFunction" in specs else next(iter(specs))
            log(f"cold: -X importtime of {profiled} and of the floor")
            op = next(o for o in operations(state, "profile") if o.function == profiled)
            event_path = workdir / "profile-event.json"
            event_path.write_text(json.dumps(op.event(0)))
            spec = specs[profiled]
            env = function_environment(spec, table=API_TABLE, endpoint=moto.url, secret=service.secret,
                                       memory=memory, site=site)
            profile = {"floor": import_profile(None, env, workdir, None),
                       profiled: import_profile(spec, env, workdir, event_path)}

            warm = warm_phase(service, calls=args.calls)
            service.new_table(RSS_TABLE)
            state = State(service)
            state.seed_base("rss")
            rss = rss_phase(specs, state, requests=args.calls, site=site, workdir=workdir)
            build = start_build()  # in the background from here on: nothing timed runs beside it
            cost = cost_phase(service, specs, sizes)
            size = size_phase(specs, build)
    finally:
        moto.stop()
    report = Report(started_at, time.monotonic() - started, args, memory, architectures, cold, profiled, profile,
                    warm, cost, rss, size)
    document, summary = render(report)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        from tags_tools.soak import keep_section  # noqa: PLC0415

        args.output.write_text(keep_section(document, args.output))
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
