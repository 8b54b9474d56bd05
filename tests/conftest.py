"""Shared fixtures.

In-process (moto's mock, one small table per test):
    table          the table (from template.yaml, TTL on) in a fresh `mock_aws()`; yields its name
    tenant         a tenant "acme" with a write and a read key (TenantKeys); other_tenant: "globex"
    make_tenant    make_tenant(name, tenant_id=None) -> TenantKeys, more tenants in the same table
    invoke         invoke(method, path, ...) -> Result: the route's real lambda_handler behind the local gateway
    call_counter   the DynamoDB calls made through tags_core.db.client()
    gateway        the session's Gateway (template routes, authorizer cache off)

Over HTTP (one `tags-local` process per session, moto inside it, authorizer cache off):
    local_api      LocalApiClient: .url, .request(...), .new_tenant(), .tenant, .other_tenant, ...
    http_tenant    a fresh tenant in the local API for one test (isolation without a fresh table)

Every test runs with dummy AWS credentials, region us-east-1, TABLE_NAME, CURSOR_SECRET and quiet Powertools,
and a tags_core.db.reset() before and after.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from moto import mock_aws

from tags_core.domain.accounts import create_api_key, create_tenant
from tags_core.domain.identity import Principal
from tags_core.store import client as db
from tags_tools import template as tpl
from tags_tools.admin import target
from tags_tools.events import MethodNotAllowed, RouteNotFound, rest_event
from tags_tools.local import moto_fixes
from tags_tools.local_server import Gateway, GatewayRequest

TEST_TABLE = "tags-test"
TEST_CURSOR_SECRET = "test-cursor-secret-0123456789abcdef"
REGION = "us-east-1"

Role = Literal["read", "write"]
_UNSET: Any = object()

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


@pytest.fixture(scope="session", autouse=True)
def _shared_botocore_data() -> Iterator[None]:
    """Every boto3 session (tags_core.db makes one per client) reads botocore's data files once per test run, not
    once per session: ~0.3 s saved per client. The data is read-only."""
    import functools  # noqa: PLC0415

    import botocore.session  # noqa: PLC0415

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.lru_cache(maxsize=8)(botocore.session.create_loader))
        yield


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("DYNAMODB_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)  # also puts back whatever a test leaves there
    db.reset()
    yield
    db.reset()


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


def _one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
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


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service's table in a fresh in-process moto (state does not outlive the test). Requests from several
    threads are applied one at a time, as DynamoDB applies each atomically."""
    _one_request_at_a_time(monkeypatch)
    moto_fixes.apply()  # what tags-local's DynamoDB has: a transaction's cost bounded, stream shards kept
    with mock_aws():
        db.reset()
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=TEST_TABLE, **tpl.table_definition())
        ttl_attribute = tpl.table_ttl_attribute()
        if ttl_attribute:
            client.update_time_to_live(TableName=TEST_TABLE,
                                       TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})
        yield TEST_TABLE
    db.reset()


@pytest.fixture
def make_tenant(table: str) -> Callable[..., TenantKeys]:
    """make_tenant(name, tenant_id=None) -> TenantKeys in the test's table."""
    return new_tenant


@pytest.fixture
def tenant(table: str) -> TenantKeys:
    return new_tenant("Acme", "acme")


@pytest.fixture
def other_tenant(table: str) -> TenantKeys:
    return new_tenant("Globex", "globex")


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


def _parse_json(body: bytes) -> Any:
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


def _encode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return jsonlib.dumps(body).encode()


def _query_pairs(path: str, query: Any) -> tuple[str, list[tuple[str, str]]]:
    from urllib.parse import parse_qsl  # noqa: PLC0415

    path, _, raw = path.partition("?")
    pairs = parse_qsl(raw, keep_blank_values=True)
    if query is not None:
        items = query.items() if isinstance(query, Mapping) else query
        for name, value in items:
            values = value if isinstance(value, (list, tuple)) else [value]
            pairs.extend((str(name), str(v).lower() if isinstance(v, bool) else str(v)) for v in values)
    return path, pairs


@pytest.fixture(scope="session")
def gateway() -> Gateway:
    """The template's routes and authorizer in this process (authorizer results not cached)."""
    return Gateway(authorizer_ttl=0)


Invoke = Callable[..., Any]


@pytest.fixture
def invoke(gateway: Gateway, tenant: TenantKeys) -> Invoke:
    """invoke(method, path, *, body=None, headers=None, query=None, tenant=None, role="write", principal=<unset>,
              key=None, authorize=False, raw_event=False) -> Result

    Matches the route in template.yaml (unknown path 404, wrong method 405, as the gateway answers), builds the
    REST proxy event and calls the function's lambda_handler. The caller, by default, is `tenant`'s write key;
    `tenant=other_tenant` / `role="read"` pick another; `principal=` sets the authorizer context directly
    (a Principal, a dict, or None for no authorizer context at all). `key="tk_..."` (or `authorize=True` with
    your own Authorization header) runs the real authorizer first, as API Gateway does (401/403 from it).
    `path` may carry a query string; `query` adds pairs (dict values may be lists). A dict/list body is sent
    as JSON with Content-Type application/json. `raw_event=True` returns the event without calling anything.
    """
    default_tenant = tenant

    def call(method: str, path: str, *, body: Any = None, headers: Mapping[str, str] | None = None,
             query: Any = None, tenant: TenantKeys | None = None, role: Role = "write", principal: Any = _UNSET,
             key: str | None = None, authorize: bool = False, raw_event: bool = False) -> Any:
        path, pairs = _query_pairs(path, query)
        header_pairs = list((headers or {}).items())
        payload = _encode_body(body)
        if payload is not None and body is not None and not isinstance(body, (str, bytes)) and not any(
                k.lower() == "content-type" for k, _ in header_pairs):
            header_pairs.append(("Content-Type", "application/json"))
        if key is not None:
            header_pairs.append(("Authorization", f"Bearer {key}"))
            authorize = True
        if principal is _UNSET:
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
        return Result(status=answer.status, headers=Headers(answer.headers), json=_parse_json(answer.body),
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


@pytest.fixture
def call_counter(tenant: TenantKeys) -> Iterator[CallCounter]:
    """Counts the calls made through tags_core.db.client() from here on (the tenant setup is not counted)."""
    counter = CallCounter()
    events = db.client().meta.events
    events.register("before-call.dynamodb", counter.record)
    yield counter
    events.unregister("before-call.dynamodb", counter.record)


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

    def request_raw(self, method: str, path: str, *, json: Any = _UNSET, body: bytes | str | None = None,
                    headers: Mapping[str, str] | None = None, query: Any = None, key: str | None = _UNSET,
                    timeout: float = 30.0) -> tuple[int, Headers, bytes]:
        path, pairs = _query_pairs(path, query)
        url = self.url + path + (f"?{urlencode(pairs)}" if pairs else "")
        sent = dict(headers or {})
        data = body.encode() if isinstance(body, str) else body
        if json is not _UNSET:
            data = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        key = self.api_key if key is _UNSET else key
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {key}")
        request = urllib.request.Request(url, data=data, headers=sent, method=method.upper())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, Headers(list(response.headers.items())), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, Headers(list(error.headers.items())), error.read()

    def request(self, method: str, path: str, *, json: Any = _UNSET, body: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, query: Any = None, key: str | None = _UNSET,
                timeout: float = 30.0) -> HttpResult:
        """One HTTP request; `key` defaults to the demo write key (None: no Authorization header)."""
        status, response_headers, raw = self.request_raw(method, path, json=json, body=body, headers=headers,
                                                          query=query, key=key, timeout=timeout)
        return HttpResult(status, response_headers, _parse_json(raw))

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
        from tags_core.domain.accounts import revoke_api_key  # noqa: PLC0415

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
    """Run `python -m tags_tools.local_server *args` (what the `tags-local` script runs), output to `log_path`;
    returns the process and its startup lines ("API", "API key", "DynamoDB", ...) once it printed them."""
    environment = _subprocess_environment()
    environment.update(env or {})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "tags_tools.local_server", *args], stdout=log,
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


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiClient]:
    """`tags-local` on a free port with its own DynamoDB, authorizer cache off (revocations apply at once)."""
    log_path = tmp_path_factory.mktemp("local-api") / "tags-local.log"
    process, lines = start_tags_local(log_path, "--port", "0", "--authorizer-ttl", "0")
    client = LocalApiClient(url=lines["API"], dynamodb_endpoint=lines["DynamoDB"],
                            table_name=lines.get("Table", "tags-local"), api_key=lines["API key"], process=process,
                            log_path=log_path)
    try:
        assert urlsplit(client.url).port
        client.tenant = client.new_tenant("HTTP Acme")
        client.other_tenant = client.new_tenant("HTTP Globex")
        yield client
    finally:
        stop_process(process)


@pytest.fixture
def spawn_tags_local(tmp_path: Path) -> Iterator[Callable[..., tuple[LocalApiClient, dict[str, str]]]]:
    """spawn_tags_local(*args, env=None) -> (client, startup lines): another `tags-local` process for this test
    (stopped at the end), e.g. spawn_tags_local("--workers", "1", env={"PORT": "3999"})."""
    clients: list[LocalApiClient] = []

    def spawn(*args: str, env: Mapping[str, str] | None = None) -> tuple[LocalApiClient, dict[str, str]]:
        log_path = tmp_path / f"tags-local-{len(clients)}.log"
        process, lines = start_tags_local(log_path, *args, env=env)
        client = LocalApiClient(url=lines["API"], dynamodb_endpoint=lines["DynamoDB"],
                                table_name=lines.get("Table", "tags-local"), api_key=lines["API key"],
                                process=process, log_path=log_path)
        clients.append(client)
        return client, lines

    yield spawn
    for client in clients:
        client.stop()


@pytest.fixture
def http_tenant(local_api: LocalApiClient) -> TenantKeys:
    """A fresh tenant of the local API, so HTTP tests do not see each other's data."""
    return local_api.new_tenant()
