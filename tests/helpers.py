"""What the tests share, defined once: the test environment, tenants and their keys, the answers a client sees,
the in-process gateway invoker, the DynamoDB call counter, the `tags-local` client, and the request and assertion
helpers every layer uses (new_tag, new_group, attach, assert_error, ...). Fixtures live in the conftest.py files and
build on this module; tests import from here (`from tests.helpers import ...`).

What the tests use of tags_core is imported here once (see the imports): the conftests and most tests take it from
this module. Tests of one rule import that rule's module themselves (unit/, the faults' lock keys, infra/test_template
and the admin CLI's token check).
"""

from __future__ import annotations

import contextlib
import functools
import json as jsonlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode

import boto3
import pytest

# What the tests use of tags_core, imported once here: tests and conftests take these names from this module, so a
# move inside tags_core is one edit here.
from tags_core.domain import groups, merge  # noqa: F401  (re-exported)
from tags_core.domain.accounts import create_api_key, create_tenant, revoke_api_key
from tags_core.domain.identity import Principal
from tags_core.flows import change_events  # noqa: F401  (EventBridge change events, re-exported)
from tags_core.store import client as db  # noqa: F401  (re-exported)
from tags_core.store import codec  # noqa: F401  (re-exported)
from tags_core.store.repository import Repository  # noqa: F401  (re-exported)
from tags_tools import template as tpl
from tags_tools.admin import target
from tags_tools.apigw_events import MethodNotAllowed, RouteNotFound, rest_event
from tags_tools.local.gateway import Gateway, GatewayRequest

TEST_TABLE = "tags-test"
TEST_CURSOR_SECRET = "test-cursor-secret-0123456789abcdef"
REGION = "us-east-1"

Role = Literal["read", "write"]
UNSET: Any = object()

TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "TABLE_NAME": TEST_TABLE,
    "CURSOR_SECRET": TEST_CURSOR_SECRET,
    "POWERTOOLS_SERVICE_NAME": "tags",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "TagsService",
}

MISSING_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed id no tenant holds
KINDS = {"conversations": "conversation", "customers": "customer", "comments": "comment"}  # path segment -> kind
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")  # what the contract allows
RFC3339_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # what the service writes
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_BODY = 64 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}
DEFAULT_APPLIES = {"conversation": True, "customer": True, "comment": True}  # a new tag's applies_to
ANY: Any = object()  # assert_error(..., field=ANY): any field, or none

Invoke = Callable[..., Any]
API_KEY_TEXT = re.compile(r"tk_[0-9a-z]{26}_[A-Za-z0-9_-]{43}")  # an API key in any text



# --- tenants and keys ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TenantKeys:
    """A tenant and one key per role. `principal_*` are what the authorizer resolves the keys to."""

    id: str
    name: str
    write_key: str
    write_key_id: str
    read_key: str
    read_key_id: str

    @property
    def principal_write(self) -> Principal:
        return Principal(tenant=self.id, role="write", key_id=self.write_key_id)

    @property
    def principal_read(self) -> Principal:
        return Principal(tenant=self.id, role="read", key_id=self.read_key_id)

    def principal(self, role: Role = "write") -> Principal:
        return self.principal_write if role == "write" else self.principal_read

    def key(self, role: Role = "write") -> str:
        return self.write_key if role == "write" else self.read_key

    def context(self, role: Role = "write") -> dict[str, str]:
        """The authorizer context API Gateway puts on the event for this tenant's key."""
        return self.principal(role).context()

    def bearer(self, role: Role = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role)}"}


def new_tenant(name: str, tenant_id: str | None = None) -> TenantKeys:
    """Create a tenant and a write and a read key in the table tags_core currently points at."""
    tenant = create_tenant(name, tenant_id=tenant_id)
    write_id, write_key = create_api_key(tenant, "write", "tests: write")
    read_id, read_key = create_api_key(tenant, "read", "tests: read")
    return TenantKeys(id=tenant, name=name, write_key=write_key, write_key_id=write_id, read_key=read_key,
                      read_key_id=read_id)


# --- in-process: moto mock, one table per test -----------------------------------------------------------------

_MOTO_LOCK = threading.RLock()


def sleeping_function(event: dict[str, Any], _context: Any) -> dict[str, float]:
    """A Lambda handler for the local server's worker pool tests: sleeps `event["seconds"]`, answers when it ended."""
    time.sleep(float(event["seconds"]))
    return {"ended": time.monotonic()}


def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto applies concurrent requests without isolation (two transactions can both pass their conditions);
    DynamoDB applies each request atomically. Threads in a test get DynamoDB's behaviour with this."""
    try:
        from moto.core.botocore_stubber import BotocoreStubber  # noqa: PLC0415
    except ImportError:  # pragma: no cover - moto moved it; tests still run, without the lock
        return
    original = BotocoreStubber.__call__

    def locked(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _MOTO_LOCK:
            return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", locked)



def create_test_table() -> str:
    """The service's table (definition and TTL from template.yaml) in the current moto mock; returns its name."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName=TEST_TABLE, **tpl.table_definition())
    ttl_attribute = tpl.table_ttl_attribute()
    if ttl_attribute:
        client.update_time_to_live(TableName=TEST_TABLE,
                                   TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})
    return TEST_TABLE


# --- answers as a client sees them ------------------------------------------------------------------------------

class Headers(Mapping[str, str]):
    """Response headers, case-insensitive; a repeated header reads as its values joined with ', '."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self._values: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        for name, value in pairs:
            self._values.setdefault(name.lower(), []).append(value)
            self._names.setdefault(name.lower(), name)

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._values[name.lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), []))

    def __repr__(self) -> str:
        return f"Headers({self.pairs!r})"


def parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return jsonlib.loads(body)
    except ValueError:
        return None


@dataclass
class Result:
    """An answer as a client would see it. `json` is None when the body is not JSON."""

    status: int
    headers: Headers
    json: Any
    body: bytes
    event: dict[str, Any] | None = None  # the event the function got (None: the gateway answered)
    raw: Any = None  # the function's own return value

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def data(self) -> Any:
        return (self.json or {}).get("data") if isinstance(self.json, dict) else None

    @property
    def error_codes(self) -> list[str]:
        errors = (self.json or {}).get("errors") if isinstance(self.json, dict) else None
        return [e.get("code") for e in errors or []]


def encode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return jsonlib.dumps(body).encode()


def query_pairs(path: str, query: Any) -> tuple[str, list[tuple[str, str]]]:
    path, _, raw = path.partition("?")
    pairs = parse_qsl(raw, keep_blank_values=True)
    if query is not None:
        items = query.items() if isinstance(query, Mapping) else query
        for name, value in items:
            values = value if isinstance(value, (list, tuple)) else [value]
            pairs.extend((str(name), str(v).lower() if isinstance(v, bool) else str(v)) for v in values)
    return path, pairs


# --- in-process: the template's routes behind the local gateway --------------------------------------------------

def gateway_invoker(gateway: Gateway, default_tenant: TenantKeys) -> Invoke:
    """invoke(method, path, *, body=None, headers=None, query=None, tenant=None, role="write", principal=<unset>,
              key=None, authorize=False, raw_event=False) -> Result

    Matches the route in template.yaml (unknown path 404, wrong method 405, as the gateway answers), builds the
    API Gateway REST proxy event and calls the function's lambda_handler. The caller, by default, is
    `default_tenant`'s write key; `tenant=other_tenant` / `role="read"` pick another; `principal=` sets the
    authorizer context directly (a Principal, a dict, or None for no authorizer context at all). `key="tk_..."` (or
    `authorize=True` with your own Authorization header) runs the real authorizer first, as API Gateway does (401/403
    from it). `path` may carry a query string; `query` adds pairs (dict values may be lists). A dict/list body is sent
    as JSON with Content-Type application/json. `raw_event=True` returns the API Gateway event without calling
    anything.
    """

    def call(method: str, path: str, *, body: Any = None, headers: Mapping[str, str] | None = None,
             query: Any = None, tenant: TenantKeys | None = None, role: Role = "write", principal: Any = UNSET,
             key: str | None = None, authorize: bool = False, raw_event: bool = False) -> Any:
        path, pairs = query_pairs(path, query)
        header_pairs = list((headers or {}).items())
        payload = encode_body(body)
        if payload is not None and body is not None and not isinstance(body, (str, bytes)) and not any(
                k.lower() == "content-type" for k, _ in header_pairs):
            header_pairs.append(("Content-Type", "application/json"))
        if key is not None:
            header_pairs.append(("Authorization", f"Bearer {key}"))
            authorize = True
        if principal is UNSET:
            context: Mapping[str, Any] | None = (tenant or default_tenant).context(role)
        elif isinstance(principal, Principal):
            context = principal.context()
        else:
            context = principal
        if raw_event:
            try:
                match = gateway.router.match(method, path)
            except (RouteNotFound, MethodNotAllowed) as exc:
                raise LookupError(f"no route for {method} {path}: {exc}") from exc
            return rest_event(method, path, resource=match.route.path, path_parameters=match.path_parameters,
                              headers=header_pairs, query=pairs, body=payload, authorizer=context)
        answer = gateway.handle(GatewayRequest(method=method, path=path, query=pairs, headers=header_pairs,
                                               body=payload), authorize=authorize, authorizer_context=context)
        return Result(status=answer.status, headers=Headers(answer.headers), json=parse_json(answer.body),
                      body=answer.body, event=answer.event, raw=answer.lambda_response)

    return call

@dataclass
class CallCounter:
    """DynamoDB API calls (one per client call; botocore's retries are not counted again)."""

    calls: list[str] = field(default_factory=list)

    def record(self, model: Any = None, **_: Any) -> None:
        self.calls.append(model.name if model is not None else "?")

    def reset(self) -> None:
        self.calls.clear()

    @property
    def count(self) -> int:
        return len(self.calls)

    def of(self, operation: str) -> int:
        """How many calls of one operation, e.g. of("Query")."""
        return self.calls.count(operation)



# --- over HTTP: one tags-local process per session -------------------------------------------------------------

class HttpResult(NamedTuple):
    status: int
    headers: Headers
    json: Any


@dataclass
class LocalApiClient:
    """A `tags-local` process (its own moto DynamoDB) for the session.

    .url, .dynamodb_endpoint, .table_name, .api_key (the demo tenant's write key), .tenant (demo, write and read
    keys), .other_tenant (a second tenant), .request(), .request_raw(), .new_tenant(), .revoke_key(), .logs().
    """

    url: str
    dynamodb_endpoint: str
    table_name: str
    api_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    tenant: TenantKeys | None = None
    other_tenant: TenantKeys | None = None
    _counter: list[int] = field(default_factory=lambda: [0])

    def request_raw(self, method: str, path: str, *, json: Any = UNSET, body: bytes | str | None = None,
                    headers: Mapping[str, str] | None = None, query: Any = None, key: str | None = UNSET,
                    timeout: float = 30.0) -> tuple[int, Headers, bytes]:
        path, pairs = query_pairs(path, query)
        url = self.url + path + (f"?{urlencode(pairs)}" if pairs else "")
        sent = dict(headers or {})
        data = body.encode() if isinstance(body, str) else body
        if json is not UNSET:
            data = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        key = self.api_key if key is UNSET else key
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {key}")
        request = urllib.request.Request(url, data=data, headers=sent, method=method.upper())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, Headers(list(response.headers.items())), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, Headers(list(error.headers.items())), error.read()

    def request(self, method: str, path: str, *, json: Any = UNSET, body: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, query: Any = None, key: str | None = UNSET,
                timeout: float = 30.0) -> HttpResult:
        """One HTTP request; `key` defaults to the demo write key (None: no Authorization header)."""
        status, response_headers, raw = self.request_raw(method, path, json=json, body=body, headers=headers,
                                                          query=query, key=key, timeout=timeout)
        return HttpResult(status, response_headers, parse_json(raw))

    @contextlib.contextmanager
    def pointing_here(self) -> Iterator[None]:
        """tags_core in this process talks to the local API's table for the block (environment restored after)."""
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                patch.setenv(name, os.environ.get(name) or "testing")
            with target(self.table_name, self.dynamodb_endpoint, REGION):
                yield

    def new_tenant(self, name: str | None = None, tenant_id: str | None = None) -> TenantKeys:
        """A tenant with a write and a read key, created in the local API's table."""
        self._counter[0] += 1
        name = name or f"HTTP tenant {self._counter[0]}"
        with self.pointing_here():
            return new_tenant(name, tenant_id)

    def revoke_key(self, tenant_id: str, key_id: str) -> None:
        with self.pointing_here():
            revoke_api_key(tenant_id, key_id)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a developer's Ctrl-C would; returns the exit code."""
        stop_process(self.process)
        return int(self.process.returncode)


def _subprocess_environment() -> dict[str, str]:
    """This environment minus the tests' table settings, with the project on the path (it is not installed)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TABLE_NAME", "DYNAMODB_ENDPOINT_URL", "CURSOR_SECRET") and not k.startswith("POWERTOOLS_")}
    roots = [str(tpl.ROOT / "layers" / "common"), str(tpl.ROOT / "tools"), str(tpl.ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([*roots, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_tags_local(log_path: Path, *args: str, env: Mapping[str, str] | None = None,
                     timeout: float = 90.0) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Run `python -m tags_tools.local.cli *args` (what the `tags-local` script runs), output to `log_path`;
    returns the process and its startup lines ("API", "API key", "DynamoDB", ...) once it printed them."""
    environment = _subprocess_environment()
    environment.update(env or {})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "tags_tools.local.cli", *args], stdout=log,
                                   stderr=subprocess.STDOUT, env=environment, cwd=tpl.ROOT)
    deadline = time.monotonic() + timeout
    lines: dict[str, str] = {}
    while time.monotonic() < deadline:
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            found = re.match(r"^(API|API key|DynamoDB|Table|Docs): (\S+)$", line)
            if found:
                lines[found.group(1)] = found.group(2)
        if {"API", "API key", "DynamoDB"} <= lines.keys():
            return process, lines
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"tags-local did not start:\n{log_path.read_text(errors='replace')}")


def launch_tags_local(log_path: Path, *args: str,
                      env: Mapping[str, str] | None = None) -> tuple[LocalApiClient, dict[str, str]]:
    """start_tags_local(), as a client of the started process and its startup lines."""
    process, lines = start_tags_local(log_path, *args, env=env)
    client = LocalApiClient(url=lines["API"], dynamodb_endpoint=lines["DynamoDB"],
                            table_name=lines.get("Table", "tags-local"), api_key=lines["API key"], process=process,
                            log_path=log_path)
    return client, lines


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)



# --- requests and assertions every layer uses ---------------------------------------------------------------------

def new_tag(invoke: Invoke, name: str, **fields: Any) -> dict[str, Any]:
    """POST /tags, which must answer 201; the tag."""
    result = invoke("POST", "/tags", body={"name": name, **fields})
    assert result.status == 201, result.json
    return result.data


def new_group(invoke: Invoke, name: str, **fields: Any) -> dict[str, Any]:
    """POST /tag-groups, which must answer 201; the group."""
    result = invoke("POST", "/tag-groups", body={"name": name, **fields})
    assert result.status == 201, result.json
    return result.data


def get_tag(invoke: Invoke, tag_id: str) -> dict[str, Any]:
    result = invoke("GET", f"/tags/{tag_id}")
    assert result.status == 200, result.json
    return result.data


def get_group(invoke: Invoke, group_id: str) -> dict[str, Any]:
    result = invoke("GET", f"/tag-groups/{group_id}")
    assert result.status == 200, result.json
    return result.data


def create_in_order(invoke: Invoke, names: list[str]) -> list[dict[str, Any]]:
    """One request per tag, a few milliseconds apart, so that creation order is unambiguous."""
    made = []
    for name in names:
        made.append(new_tag(invoke, name))
        time.sleep(0.003)
    return made


def batch_create(invoke: Invoke, items: list[Any]) -> dict[str, Any]:
    """POST /tags/batch, which must answer 200; its data."""
    result = invoke("POST", "/tags/batch", body={"tags": items})
    assert result.status == 200, result.json
    return result.data


def list_tags(invoke: Invoke, **query: Any) -> Any:
    """GET /tags with these query parameters, which must answer 200; the answer."""
    result = invoke("GET", "/tags", query=query)
    assert result.status == 200, result.json
    return result


def names_of(result: Any) -> list[str]:
    """The names in an answer's data, in its order."""
    return [t["name"] for t in result.data]


def group_count(invoke: Invoke, group_id: str) -> int:
    return invoke("GET", f"/tag-groups/{group_id}").data["tag_count"]


def oversized_json(body: dict[str, Any]) -> str:
    """`body` as JSON, padded one byte over the 64 KiB a request body may have."""
    return jsonlib.dumps({**body, "pad": "a" * (MAX_BODY + 1)})


def spellings(base: str, count: int) -> list[str]:
    """`count` different spellings of one name: case, surrounding and inner whitespace, NFC/NFD."""
    words = base.split(" ")
    cases: list[Callable[[str], str]] = [str, str.upper, str.lower, str.title, str.swapcase]
    spaces = [" ", "  ", "\t", " \u00a0", "\u3000", "\n "]
    wraps = [("", ""), ("  ", ""), ("", " \t"), ("\u2003", "\u2003")]
    forms = ["NFC", "NFD"]
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < count:
        case = cases[i % len(cases)]
        space = spaces[(i // len(cases)) % len(spaces)]
        left, right = wraps[(i // 3) % len(wraps)]
        form = forms[(i // 2) % len(forms)]
        candidate = unicodedata.normalize(form, left + space.join(case(w) for w in words) + right)
        if candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
        i += 1
        assert i < count * 50, "not enough spellings"
    return out


_INVOKE_OPTIONS = ("headers", "tenant", "principal")


def attach(invoke: Invoke, kind: str, object_id: str, names: Iterable[str] = (), ids: Iterable[str] = (),
           method: str = "POST", **extra: Any) -> Any:
    """POST (or PUT) /{kind}/{object_id}/tags with `tags` and `tag_ids`; `headers`, `tenant` and `principal` go to
    invoke, any other keyword into the body. The answer, whatever it is."""
    body: dict[str, Any] = {"tags": list(names), "tag_ids": list(ids)}
    body.update({k: v for k, v in extra.items() if k not in _INVOKE_OPTIONS})
    options = {k: v for k, v in extra.items() if k in _INVOKE_OPTIONS}
    return invoke(method, f"/{kind}/{object_id}/tags", body=body, **options)


def ok_attach(invoke: Invoke, kind: str, object_id: str, names: Iterable[str] = (), ids: Iterable[str] = (),
              **extra: Any) -> Any:
    """attach(), which must answer 200."""
    result = attach(invoke, kind, object_id, names, ids, **extra)
    assert result.status == 200, result.json
    return result


def object_tags(invoke: Invoke, kind: str, object_id: str, **options: Any) -> tuple[list[dict[str, Any]], int]:
    """GET /{kind}/{object_id}/tags: the tags listed and the set's version (meta names the object)."""
    result = invoke("GET", f"/{kind}/{object_id}/tags", **options)
    assert result.status == 200, result.json
    assert result.json["meta"]["object"] == {"kind": KINDS[kind], "id": object_id}
    return result.data, result.json["meta"]["version"]


def listed_names(invoke: Invoke, kind: str, object_id: str) -> list[str]:
    """The names of the tags GET /{kind}/{object_id}/tags lists, in its order."""
    return [t["name"] for t in object_tags(invoke, kind, object_id)[0]]


def follow(invoke: Invoke, path: str, *, pages: int = 50, options: Mapping[str, Any] | None = None,
           **query: Any) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor from the first page (at most `pages` pages); `options` go to
    invoke."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(pages):
        result = invoke("GET", path, query={**query, **({"cursor": cursor} if cursor else {})}, **(options or {}))
        assert result.status == 200, result.json
        items.extend(result.data)
        cursor = result.json["meta"]["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the cursor never ended")


def all_tags(invoke: Invoke, **options: Any) -> list[dict[str, Any]]:
    """Every live tag of the caller's tenant (GET /tags, 100 a page); `options` go to invoke."""
    return follow(invoke, "/tags", pages=20, options=options, limit=100)


def assert_usage_exact(invoke: Invoke, objects: Iterable[tuple[str, str]], **options: Any) -> None:
    """Every live tag's usage equals a recount over the lists of every object touched (and is 0 elsewhere)."""
    counted: dict[str, Counter[str]] = {}
    for kind, object_id in set(objects):
        data, _ = object_tags(invoke, kind, object_id, **options)
        assert len({t["id"] for t in data}) == len(data), "a tag listed twice"
        for t in data:
            counted.setdefault(t["id"], Counter())[KINDS[kind]] += 1
    tags = {t["id"]: t for t in all_tags(invoke, **options)}
    assert set(counted) <= set(tags), "an object lists a tag that is not live"
    for tag_id, t in tags.items():
        expected = {k: counted.get(tag_id, Counter())[k] for k in KINDS.values()}
        assert t["usage"] == expected, (t["name"], t["usage"], expected)


def assert_error(result: Any, status: int, code: str, field: Any = ANY) -> dict[str, Any]:
    """The contract's error envelope (exactly its five members) with `code` as the first entry, and its `field` when
    given (None: no field). Works on in-process answers (Result) and HTTP ones (HttpResult)."""
    assert result.status == status, (result.status, result.json)
    body = result.json
    assert isinstance(body, dict), result
    assert set(body) == {"status", "description", "response_time", "request_id", "errors"}, body
    assert body["status"] == status
    assert isinstance(body["description"], str) and body["description"]
    assert RFC3339_MILLIS.match(body["response_time"]), body["response_time"]
    assert body["request_id"] == result.headers["X-Request-Id"]
    event = getattr(result, "event", None)
    if event is not None:
        assert body["request_id"] == event["requestContext"]["requestId"]
    assert isinstance(body["errors"], list) and body["errors"], body
    for entry in body["errors"]:
        assert isinstance(entry["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", entry["code"]), entry
        assert isinstance(entry["message"], str) and entry["message"], entry
        for leak in ("Traceback", "botocore", "pydantic", "ClientError", 'File "'):
            assert leak not in entry["message"], entry
    first = body["errors"][0]
    assert first["code"] == code, body["errors"]
    if field is None:
        assert first.get("field") is None, first
    elif field is not ANY:
        assert first.get("field") == field, first
    return dict(first)


def assert_envelope(status: int, body: Any, headers: Any, code: str) -> None:
    """assert_error() on an answer's parts, and the request id is a UUID."""
    assert_error(HttpResult(status, headers, body), status, code)
    assert uuid.UUID(body["request_id"])


@functools.lru_cache(maxsize=4)
def _scanner(endpoint_url: str | None) -> Any:
    """A plain boto3 client (not the layer's, so nothing counts or hooks its calls); moto's mock serves it."""
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def scan(table: str, endpoint_url: str | None = None) -> list[dict[str, Any]]:
    """Every item of the table, in key order (botocore's scan paginator, consistent reads)."""
    pages = _scanner(endpoint_url).get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return sorted((item for page in pages for item in page["Items"]), key=lambda i: (i["PK"]["S"], i["SK"]["S"]))







# --- keys never logged: one flow of requests that carry keys ------------------------------------------------------

def key_flow(call: Callable[..., tuple[int, Any]], write: str, read: str, revoke: Callable[[], None]) -> list[int]:
    """Every kind of request that carries a key: reads, writes (idempotent too), refused roles, unknown, wrong,
    malformed and revoked keys. `call(method, path, key, body=None, headers=None)` -> (status, json)."""
    key_id = write.split("_")[1]
    wrong_secret = f"tk_{key_id}_{'Z' * 43}"  # a real key id with a wrong secret
    statuses = []
    status, body = call("POST", "/tags", write, {"name": "Logged?"}, {"Idempotency-Key": "log-1"})
    statuses.append(status)
    tag_id = body["data"]["id"]
    for method, path, key, payload, headers in [
        ("POST", "/tags", write, {"name": "Logged?"}, {"Idempotency-Key": "log-1"}),  # replay
        ("GET", "/tags", read, None, None),
        ("GET", f"/tags/{tag_id}", read, None, None),
        ("PATCH", f"/tags/{tag_id}", write, {"description": "x"}, {"If-Match": '"1"'}),
        ("PATCH", f"/tags/{tag_id}", write, {"description": "y"}, {"If-Match": '"1"'}),  # 412
        ("POST", "/conversations/c-log/tags", write, {"tags": ["Logged?", "Also logged?"]}, None),
        ("GET", "/conversations/c-log/tags", read, None, None),
        ("POST", "/tags", write, {"name": "\u0000"}, None),  # 400
        ("POST", "/tags", read, {"name": "Not allowed"}, None),  # 403
        ("GET", "/tags", wrong_secret, None, None),  # 401
        ("GET", "/tags", "tk_" + "0" * 26 + "_" + "A" * 43, None, None),  # 401, unknown key id
        ("GET", "/tags", write + "x", None, None),  # 401, malformed
        ("DELETE", f"/tags/{tag_id}", write, None, None),
    ]:
        statuses.append(call(method, path, key, payload, headers)[0])
    revoke()
    statuses.append(call("GET", "/tags", read, None, None)[0])  # 401, revoked
    return statuses


EXPECTED_FLOW = [201, 201, 200, 200, 200, 412, 200, 200, 400, 403, 401, 401, 401, 200, 401]  # key_flow()'s statuses
