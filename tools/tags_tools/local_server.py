"""The API on your machine, without Docker or an AWS account: `tags-local` (or `make run`).

What it does, per request, is what API Gateway does in front of the deployed functions, driven by template.yaml:
route matching (unknown path 404, known path with another method 405), CORS preflights, the TOKEN authorizer
(identity header, validation expression, policy evaluation, result cache), the REST proxy event, and the
gateway's own errors in the service's envelope. The functions' real `lambda_handler`s answer.

DynamoDB is moto's server on a free local port, with the fixes that keep it fit for long runs
(tags_tools/local/moto_fixes.py; in memory: data is gone when the server stops), or any DynamoDB given with
`--dynamodb-endpoint` (`tags-dynamodb`, the same server as a process of its own, or DynamoDB Local).

The table-stream consumers run too (polling the table's stream). Their change events go to the log instead of
EventBridge, and with `--events-file PATH` are also appended to that file as JSON lines (docs/events.md).

Concurrency: each function runs like a Lambda execution environment, one request at a time per worker process
(`--workers`, default 4), so concurrent requests really run concurrently. With `--workers 0` everything runs in
this process, one request at a time: Powertools' resolver keeps the current event in class attributes, so two
requests handled by threads of one interpreter would see each other's events.

Also served, without auth: `GET /openapi.json` (the merged OpenAPI document), Swagger UI at `GET /docs`, and
`GET /_local/status` (the stream consumers' progress and the embedded DynamoDB's counters, for `make soak`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib import resources
from multiprocessing import get_context
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import quote

from tags_tools import template as tpl
from tags_tools.apigw_events import (
    API_ID,
    STAGE,
    MethodNotAllowed,
    RouteNotFound,
    Router,
    method_arn,
    rest_event,
    token_authorizer_event,
)
from tags_tools.local import moto_fixes
from tags_tools.local.dynamodb import EmbeddedDynamoDB

__all__ = [
    "EmbeddedDynamoDB",
    "Gateway",
    "GatewayRequest",
    "GatewayResponse",
    "InProcessInvoker",
    "LambdaContext",
    "LocalApi",
    "ProcessPoolInvoker",
    "configure_environment",
    "main",
    "policy_allows",
    "start_local_api",
]

logger = logging.getLogger("tags_tools.local_server")

DEFAULT_PORT = 3000
DEFAULT_TABLE = "tags-local"
DEFAULT_WORKERS = 4
REGION = "us-east-1"
MAX_GATEWAY_BODY = 10 * 1024 * 1024  # API Gateway's own payload limit; the functions enforce the 64 KiB one
DEMO_TENANT = "demo"

JSON_TYPE = "application/json"
STATUS_PATH = "/_local/status"  # the stream consumers' progress and the embedded DynamoDB's counters
_UNSET: Any = object()


# --- the template's API settings -------------------------------------------------------------------------------

def _unquote(value: Any) -> str:
    """SAM CORS values are quoted for API Gateway ("'*'")."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _api_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    apis = {name: res for name, res in template["Resources"].items()
            if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Api"}
    if not apis:
        return {}
    chosen = apis.get("TagsApi") or next(iter(apis.values()))
    return dict(chosen.get("Properties") or {})


@dataclass(frozen=True)
class AuthSettings:
    header: str = "Authorization"
    validation: re.Pattern[str] | None = None
    ttl: float = 300.0


@dataclass(frozen=True)
class ApiSettings:
    """What the gateway needs from the template besides the routes."""

    stage: str = STAGE
    cors: dict[str, str] | None = None  # preflight response headers, None when CORS is off
    auth: AuthSettings | None = None  # None: no default authorizer
    gateway_responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)  # function logical id -> MB
    timeout: dict[str, int] = field(default_factory=dict)  # function logical id -> seconds
    stream_consumers: dict[str, int] = field(default_factory=dict)  # function logical id -> batch size

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> ApiSettings:
        props = _api_properties(template)
        cors_value = props.get("Cors")
        cors: dict[str, str] | None = None
        if isinstance(cors_value, str):
            cors = {"Access-Control-Allow-Origin": _unquote(cors_value)}
        elif isinstance(cors_value, dict):
            names = {"AllowOrigin": "Access-Control-Allow-Origin", "AllowHeaders": "Access-Control-Allow-Headers",
                     "AllowMethods": "Access-Control-Allow-Methods", "MaxAge": "Access-Control-Max-Age",
                     "AllowCredentials": "Access-Control-Allow-Credentials"}
            cors = {header: _unquote(cors_value[key]) for key, header in names.items() if key in cors_value}
            if "Access-Control-Allow-Credentials" in cors:
                cors["Access-Control-Allow-Credentials"] = cors["Access-Control-Allow-Credentials"].lower()
        auth: AuthSettings | None = None
        auth_props = props.get("Auth") or {}
        default = auth_props.get("DefaultAuthorizer")
        config = (auth_props.get("Authorizers") or {}).get(default) if default else None
        if isinstance(config, dict):
            identity = config.get("Identity") or {}
            expression = identity.get("ValidationExpression")
            auth = AuthSettings(header=str(identity.get("Header", "Authorization")),
                                validation=re.compile(str(expression)) if expression else None,
                                ttl=float(identity.get("ReauthorizeEvery", 300)))
        specs = tpl.functions(dict(template)).values()  # Globals merged: memory, timeout, event sources
        return cls(stage=str(props.get("StageName", STAGE)), cors=cors, auth=auth,
                   gateway_responses=dict(props.get("GatewayResponses") or {}),
                   memory={spec.logical_id: spec.memory_size for spec in specs},
                   timeout={spec.logical_id: spec.timeout for spec in specs},
                   stream_consumers={spec.logical_id: spec.stream_batch_size for spec in specs
                                     if spec.stream_batch_size is not None})


# --- invoking a function ---------------------------------------------------------------------------------------

@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 10
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}")
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Outcome:
    """What an invocation gave: the handler's return value, or the exception it raised."""

    value: Any = None
    error_type: str | None = None
    error_message: str = ""
    trace: str = ""

    @property
    def ok(self) -> bool:
        return self.error_type is None


def run_handler(module: str, handler: str, event: dict[str, Any], context: dict[str, Any]) -> Outcome:
    """Import `module` (once per process) and call its handler. Runs in a worker process or in this one."""
    function = getattr(importlib.import_module(module), handler)
    try:
        return Outcome(value=function(event, LambdaContext(**context)))
    except Exception as exc:
        return Outcome(error_type=type(exc).__name__, error_message=str(exc), trace=traceback.format_exc())


def _warm(modules: tuple[str, ...]) -> int:
    for module in modules:
        importlib.import_module(module)
    return os.getpid()


class Invoker(Protocol):
    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float) -> Outcome: ...

    def close(self) -> None: ...


class InProcessInvoker:
    """Calls handlers in this interpreter, one at a time (see the module docstring for why)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float) -> Outcome:
        with self._lock:
            return run_handler(spec.module, spec.handler, event, context)

    def close(self) -> None:
        return None


class ProcessPoolInvoker:
    """Worker processes (spawned, so they start clean and inherit the environment set before), each handling one
    request at a time like a Lambda execution environment. A crashed pool is replaced."""

    def __init__(self, workers: int, warm_modules: Iterable[str] = ()) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._executor = self._new_executor()
        modules = tuple(warm_modules)
        self._warming: list[Future[int]] = [self._executor.submit(_warm, modules) for _ in range(workers)]

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=get_context("spawn"))

    def wait_warm(self, timeout: float = 60.0) -> None:
        for future in self._warming:
            future.result(timeout=timeout)

    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float) -> Outcome:
        executor = self._executor
        try:
            future = executor.submit(run_handler, spec.module, spec.handler, event, context)
            return future.result(timeout=timeout)
        except FutureTimeout:
            return Outcome(error_type="Timeout", error_message=f"Task timed out after {timeout:.0f} seconds")
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:
                    logger.error("a worker process died; starting new workers")
                    self._executor = self._new_executor()
            return Outcome(error_type="Runtime.ExitError", error_message="The worker process exited.")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# --- the authorizer --------------------------------------------------------------------------------------------

def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters (slashes included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def policy_allows(policy_document: Mapping[str, Any], arn: str) -> bool:
    """Does the policy let `execute-api:Invoke` on `arn`? An explicit Deny wins over any Allow."""
    allowed = False
    for statement in _as_list(policy_document.get("Statement")):
        if not isinstance(statement, dict):
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        if not any(_glob(action, "execute-api:Invoke", ignore_case=True) for action in actions):
            continue
        if not any(_glob(str(resource), arn) for resource in _as_list(statement.get("Resource"))):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


class AuthorizerError(Exception):
    """The authorizer answered something API Gateway rejects (500 AUTHORIZER_CONFIGURATION_ERROR)."""


def _check_authorizer_result(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict) or not result.get("principalId"):
        raise AuthorizerError("the authorizer's answer has no principalId")
    document = result.get("policyDocument")
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise AuthorizerError("the authorizer's answer has no policyDocument with statements")
    context = result.get("context") or {}
    if not isinstance(context, dict) or not all(
            isinstance(v, (str, int, float, bool)) for v in context.values()):
        raise AuthorizerError("authorizer context values must be strings, numbers or booleans")
    return result


class AuthorizerCache:
    """Authorizer results per identity-source value (hashed: keys are not kept in memory), for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> dict[str, Any] | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(self._key(token))
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1]

    def put(self, token: str, result: dict[str, Any]) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if len(self._entries) > 10_000:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[self._key(token)] = (now + self.ttl, result)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --- the gateway -----------------------------------------------------------------------------------------------

@dataclass
class GatewayRequest:
    method: str
    path: str  # without stage and query, percent-encoding as received
    query: list[tuple[str, str]] = field(default_factory=list)  # decoded
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | str | None = None
    source_ip: str = "127.0.0.1"


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    event: dict[str, Any] | None = None  # the event the function got, when one was called
    lambda_response: Any = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in reversed(self.headers) if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_ERROR_DEFAULTS: dict[str, tuple[int, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "No route matches this method and path."),
    "METHOD_NOT_ALLOWED": (405, "method_not_allowed", "This path does not support the {method} method."),
    "UNAUTHORIZED": (401, "unauthenticated",
                     "Missing, malformed, unknown or revoked API key; send Authorization: Bearer <api key>."),
    "ACCESS_DENIED": (403, "forbidden", "This API key may not make this request."),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "The request is too large."),
    "AUTHORIZER_FAILURE": (503, "service_unavailable", "The service is busy; retry shortly."),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "internal_error",
                                       "Something went wrong on our side; quote the request id."),
    "INTEGRATION_FAILURE": (500, "internal_error", "Something went wrong on our side; quote the request id."),
    "INTEGRATION_TIMEOUT": (503, "service_unavailable", "The service is busy; retry shortly."),
    "DEFAULT_5XX": (500, "internal_error", "Something went wrong on our side; quote the request id."),
}


class Gateway:
    """API Gateway in front of the template's functions. `handle()` is the whole request path; the WSGI server
    and the tests' `invoke` fixture both go through it."""

    def __init__(self, template: Mapping[str, Any] | None = None, *, invoker: Invoker | None = None,
                 authorizer_ttl: float | None = None, api_id: str = API_ID) -> None:
        self.template = dict(template) if template is not None else tpl.load_template()
        self.settings = ApiSettings.from_template(self.template)
        self.functions = tpl.functions(self.template)
        implicit = ("OPTIONS",) if self.settings.cors is not None else ()
        self.router = Router(tpl.api_routes(self.template), implicit_methods=implicit)
        self.authorizer_spec = tpl.authorizer(self.template) if self.settings.auth else None
        ttl = authorizer_ttl if authorizer_ttl is not None else (
            self.settings.auth.ttl if self.settings.auth else 0.0)
        self.authorizer_cache = AuthorizerCache(ttl)
        self.invoker: Invoker = invoker or InProcessInvoker()
        self.api_id = api_id

    # --- responses API Gateway makes itself ---

    def gateway_error(self, kind: str, request_id: str, *, status: int | None = None, message: str | None = None,
                      headers: Mapping[str, str] | None = None, **fmt: str) -> GatewayResponse:
        """An error API Gateway answers itself: the template's gateway response headers (its type's, else
        DEFAULT_4XX/5XX), the service's error envelope with an RFC 3339 time."""
        from tags_core.http.envelope import error_body  # noqa: PLC0415 - imported once the environment is set

        default_status, code, default_message = _ERROR_DEFAULTS.get(kind, (500, "internal_error", "Error."))
        status = status or default_status
        configured = self.settings.gateway_responses
        spec = configured.get(kind) or configured.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX") or {}
        text = message or self._template_message(spec, code) or default_message.format(**fmt)
        out: list[tuple[str, str]] = [("Content-Type", JSON_TYPE)]
        for name, raw in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
            value = str(raw)
            if value == "context.requestId":
                out.append((name, request_id))
            elif value.startswith("'") and value.endswith("'") and name.lower() != "content-type":
                out.append((name, value[1:-1]))
        if not any(k.lower() == "x-request-id" for k, _ in out):
            out.append(("X-Request-Id", request_id))
        out.extend((headers or {}).items())
        body = error_body(status, [{"code": code, "message": text}], request_id)
        return GatewayResponse(status, out, json.dumps(body, separators=(",", ":")).encode())

    @staticmethod
    def _template_message(spec: Mapping[str, Any], code: str) -> str | None:
        template = (spec.get("ResponseTemplates") or {}).get(JSON_TYPE)
        if not template:
            return None
        try:
            document = json.loads(str(template).replace("$context.", "context."))
            entry = document["errors"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        return str(entry["message"]) if entry.get("code") == code and entry.get("message") else None

    # --- the request path ---

    def handle(self, request: GatewayRequest, *, authorize: bool = True,
               authorizer_context: Mapping[str, Any] | None = _UNSET) -> GatewayResponse:
        """Route, authorize, build the event, invoke, translate the answer.

        `authorize=False` skips the authorizer; the event then carries `authorizer_context` (None: none at all).
        """
        request_id = str(uuid.uuid4())
        method = request.method.upper()
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and len(body) > MAX_GATEWAY_BODY:
            return self.gateway_error("REQUEST_TOO_LARGE", request_id)

        try:
            match = self.router.match(method, request.path)
        except RouteNotFound:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id)
        except MethodNotAllowed as exc:
            if method == "OPTIONS" and self.settings.cors is not None:
                return self._preflight(request_id)
            return self.gateway_error("METHOD_NOT_ALLOWED", request_id, method=method,
                                      headers={"Allow": ", ".join(exc.allowed)})

        context: Mapping[str, Any] | None = None
        principal_id: str | None = None
        if authorize and self.settings.auth is not None:
            outcome = self._authorize(request, method, request_id)
            if isinstance(outcome, GatewayResponse):
                return outcome
            context, principal_id = outcome
        elif authorizer_context is not _UNSET:
            context = authorizer_context

        event = rest_event(
            method, request.path, resource=match.route.path, path_parameters=match.path_parameters,
            headers=self._forwarded_headers(request), query=request.query, body=body, authorizer=context,
            principal_id=principal_id, source_ip=request.source_ip, request_id=request_id,
            stage=self.settings.stage, client_path=request.path, api_id=self.api_id,  # served without a stage
        )
        spec = self.functions[match.route.function]
        outcome_ = self._invoke(spec, event)
        if not outcome_.ok:
            return self._function_failed(spec, outcome_, request_id, event)
        try:
            response = self._translate(outcome_.value)
        except (TypeError, ValueError) as exc:
            logger.error("%s returned a malformed proxy response (%s); request %s", spec.logical_id, exc, request_id)
            response = self.gateway_error("DEFAULT_5XX", request_id)
        response.event = event
        response.lambda_response = outcome_.value
        return response

    def _preflight(self, request_id: str) -> GatewayResponse:
        headers = [*(self.settings.cors or {}).items(), ("X-Request-Id", request_id)]
        return GatewayResponse(204, headers, b"")

    def _forwarded_headers(self, request: GatewayRequest) -> list[tuple[str, str]]:
        """The request's headers plus those API Gateway adds on the way to the integration."""
        names = {k.lower() for k, _ in request.headers}
        added = [("X-Forwarded-For", request.source_ip), ("X-Forwarded-Proto", "http"),
                 ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")]
        return [*request.headers, *((k, v) for k, v in added if k.lower() not in names)]

    def _context_fields(self, spec: tpl.FunctionSpec) -> dict[str, Any]:
        return {"function_name": spec.logical_id, "memory_limit_in_mb": self.settings.memory.get(spec.logical_id, 128),
                "timeout_seconds": self.settings.timeout.get(spec.logical_id, 3)}

    def _invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any]) -> Outcome:
        timeout = float(self.settings.timeout.get(spec.logical_id, 3))
        return self.invoker.invoke(spec, event, self._context_fields(spec), timeout + 5.0)

    def stream_handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """A handler for StreamPoller that runs the function like its other invocations (raises when it fails)."""
        spec = self.functions[logical_id]

        def handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            outcome = self._invoke(spec, event)
            if not outcome.ok:
                raise RuntimeError(f"{logical_id} failed: {outcome.error_type}: {outcome.error_message}\n"
                                   f"{outcome.trace}")
            return dict(outcome.value or {})

        return handle

    def _function_failed(self, spec: tpl.FunctionSpec, outcome: Outcome, request_id: str,
                         event: dict[str, Any] | None = None) -> GatewayResponse:
        logger.error("%s failed on request %s: %s: %s\n%s", spec.logical_id, request_id, outcome.error_type,
                     outcome.error_message, outcome.trace)
        response = self.gateway_error("DEFAULT_5XX", request_id)
        response.event = event
        return response

    def _authorize(self, request: GatewayRequest, method: str,
                   request_id: str) -> tuple[dict[str, Any], str] | GatewayResponse:
        auth = self.settings.auth
        assert auth is not None and self.authorizer_spec is not None
        wanted = auth.header.lower()
        token = next((v for k, v in reversed(request.headers) if k.lower() == wanted), "")
        if not token or (auth.validation is not None and not auth.validation.match(token)):
            return self.gateway_error("UNAUTHORIZED", request_id)
        arn = method_arn(method, request.path, stage=self.settings.stage, api_id=self.api_id)
        result = self.authorizer_cache.get(token)
        if result is None:
            spec = self.authorizer_spec
            outcome = self.invoker.invoke(spec, token_authorizer_event(token, method, request.path,
                                                                       stage=self.settings.stage, api_id=self.api_id),
                                          self._context_fields(spec), float(self.settings.timeout.get(
                                              spec.logical_id, 3)) + 5.0)
            if not outcome.ok:
                if outcome.error_message == "Unauthorized":
                    return self.gateway_error("UNAUTHORIZED", request_id)
                logger.error("the authorizer failed on request %s: %s: %s\n%s", request_id, outcome.error_type,
                             outcome.error_message, outcome.trace)
                return self.gateway_error("AUTHORIZER_FAILURE", request_id)
            try:
                result = _check_authorizer_result(outcome.value)
            except AuthorizerError as exc:
                logger.error("request %s: %s", request_id, exc)
                return self.gateway_error("AUTHORIZER_CONFIGURATION_ERROR", request_id)
            self.authorizer_cache.put(token, result)
        if not policy_allows(result["policyDocument"], arn):
            return self.gateway_error("ACCESS_DENIED", request_id)
        return dict(result.get("context") or {}), str(result["principalId"])

    @staticmethod
    def _translate(value: Any) -> GatewayResponse:
        """A proxy integration answer → status, headers (single and multi-value merged like API Gateway), body."""
        if not isinstance(value, dict):
            raise TypeError("the handler did not return an object")
        status = int(value.get("statusCode", 200))
        multi = {str(k): [str(v) for v in _as_list(vs)] for k, vs in (value.get("multiValueHeaders") or {}).items()}
        multi_names = {k.lower() for k in multi}
        headers = [(str(k), str(v)) for k, v in (value.get("headers") or {}).items() if k.lower() not in multi_names]
        headers.extend((k, v) for k, vs in multi.items() for v in vs)
        raw = value.get("body")
        if raw is None:
            body = b""
        elif value.get("isBase64Encoded"):
            body = base64.b64decode(str(raw))
        else:
            body = str(raw).encode()
        return GatewayResponse(status, headers, body)


# --- the WSGI server -------------------------------------------------------------------------------------------

_SWAGGER_ASSETS = {"swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript"),
                   "swagger-ui.css": ("swagger-ui.min.css", "text/css")}
_SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tags API</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui">Loading...</div>
  <script src="{js}"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
                                 persistAuthorization: true, docExpansion: "list"}});
  </script>
</body>
</html>
"""


def _swagger_asset(name: str) -> bytes | None:
    try:
        package = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
        return (package / name).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return None


class LocalServer:
    """The WSGI application: docs endpoints, then the gateway."""

    def __init__(self, gateway: Gateway, *, base_url: str = "") -> None:
        self.gateway = gateway
        self.base_url = base_url
        self._spec: bytes | None = None
        self._spec_lock = threading.Lock()
        self.status: Callable[[], dict[str, Any]] | None = None  # what GET /_local/status answers

    def openapi_json(self) -> bytes:
        with self._spec_lock:
            if self._spec is None:
                from tags_tools.openapi import build_spec  # noqa: PLC0415 - imports every function module

                servers = [{"url": self.base_url, "description": "This local server"}] if self.base_url else None
                self._spec = json.dumps(build_spec(self.gateway.template, servers=servers), indent=2).encode()
            return self._spec

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from werkzeug.wrappers import Request, Response  # noqa: PLC0415

        started = time.monotonic()
        request = Request(environ)
        response = self._docs(request)
        if response is None:
            raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
            path = raw_uri.split("?", 1)[0] if raw_uri.startswith("/") else quote(request.path)
            if (request.content_length or 0) > MAX_GATEWAY_BODY:
                answer = self.gateway.gateway_error("REQUEST_TOO_LARGE", str(uuid.uuid4()))
            else:
                body = request.get_data(cache=False)
                answer = self.gateway.handle(GatewayRequest(
                    method=request.method, path=path, query=list(request.args.items(multi=True)),
                    headers=list(request.headers.items()), body=body or None,
                    source_ip=request.remote_addr or "127.0.0.1"))
            response = Response(answer.body, status=answer.status, headers=answer.headers)
            if answer.header("Content-Type") is None:
                del response.headers["Content-Type"]  # not werkzeug's text/plain default
            logger.info("%s %s -> %s (%.0f ms, request %s)", request.method, request.full_path.rstrip("?"),
                        answer.status, (time.monotonic() - started) * 1000, answer.header("X-Request-Id") or "-")
        return response(environ, start_response)

    def _docs(self, request: Any) -> Any:
        from werkzeug.wrappers import Response  # noqa: PLC0415

        if request.method not in ("GET", "HEAD"):
            return None
        if request.path == "/openapi.json":
            return Response(self.openapi_json(), mimetype=JSON_TYPE)
        if request.path == STATUS_PATH and self.status is not None:
            return Response(json.dumps(self.status()), mimetype=JSON_TYPE, headers={"Cache-Control": "no-store"})
        if request.path in ("/docs", "/docs/"):
            local = all(_swagger_asset(file) is not None for file, _ in _SWAGGER_ASSETS.values())
            base = "/docs" if local else _SWAGGER_CDN
            page = _DOCS_PAGE.format(css=f"{base}/swagger-ui.css", js=f"{base}/swagger-ui-bundle.js",
                                     spec="/openapi.json")
            return Response(page, mimetype="text/html")
        name = request.path.removeprefix("/docs/")
        if request.path.startswith("/docs/") and name in _SWAGGER_ASSETS:
            file, mimetype = _SWAGGER_ASSETS[name]
            content = _swagger_asset(file)
            if content is not None:
                return Response(content, mimetype=mimetype, headers={"Cache-Control": "max-age=3600"})
        return None


# --- environment, DynamoDB, seeding ----------------------------------------------------------------------------

def configure_environment(table_name: str, endpoint_url: str | None, *, template: Mapping[str, Any] | None = None,
                          cursor_secret: str | None = None, events_file: str | Path | None = None) -> None:
    """The functions' environment for this process (and the worker processes spawned after it): the template's
    literal variables, the local table, a cursor secret (kept from the environment, else random), dummy AWS
    credentials, change events to the log (and `events_file`). Call before importing any function module."""
    template = template if template is not None else tpl.load_template()
    for spec in tpl.functions(dict(template)).values():
        for name, value in spec.environment.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                os.environ.setdefault(name, str(value))
    os.environ["TABLE_NAME"] = table_name
    secret = cursor_secret or os.environ.get("CURSOR_SECRET") or ""
    os.environ["CURSOR_SECRET"] = secret if len(secret) >= 16 else secrets.token_urlsafe(32)
    if endpoint_url:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    else:
        os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tags")
    os.environ["EVENT_BUS_NAME"] = "local"  # never a real bus from here
    if events_file:
        os.environ["EVENTS_FILE"] = str(Path(events_file).resolve())

    from tags_core.store import client as db  # noqa: PLC0415

    db.reset()


def ensure_table(endpoint_url: str | None, table_name: str, template: Mapping[str, Any] | None = None) -> bool:
    """Create the table (keys and indexes from the template, TTL on) unless it exists. True when created."""
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=os.environ.get("AWS_REGION", REGION))
    try:
        client.describe_table(TableName=table_name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    the_template = dict(template) if template is not None else None
    client.create_table(TableName=table_name, **tpl.table_definition(the_template))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ttl_attribute = tpl.table_ttl_attribute(the_template)
    if ttl_attribute:
        client.update_time_to_live(TableName=table_name,
                                   TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})
    return True


def seed_demo_tenant() -> tuple[str, str, str]:
    """The `demo` tenant (kept if it exists) and a new write key for it: (tenant, key id, key)."""
    from tags_core.domain import accounts as auth  # noqa: PLC0415
    from tags_core.errors import Conflict  # noqa: PLC0415

    with contextlib.suppress(Conflict):  # kept from an earlier run against a persistent DynamoDB
        auth.create_tenant("Demo", tenant_id=DEMO_TENANT)
    key_id, key = auth.create_api_key(DEMO_TENANT, "write", "local demo")
    return DEMO_TENANT, key_id, key


def _quiet_libraries() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server; this server logs requests itself
    logging.getLogger("botocore").setLevel(logging.WARNING)


@dataclass
class LocalApi:
    """A running local API (see `start_local_api`)."""

    url: str
    dynamodb_endpoint: str
    table_name: str
    tenant_id: str
    api_key: str
    api_key_id: str
    gateway: Gateway
    _server: Any
    _thread: threading.Thread
    _moto: Any = None
    _pollers: list[Any] = field(default_factory=list)
    _stopped: bool = False

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for poller in self._pollers:
            poller.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self.gateway.invoker.close()
        if self._moto is not None:
            self._moto.stop()

    def __enter__(self) -> LocalApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_local_api(port: int = 0, *, host: str = "127.0.0.1", dynamodb_endpoint: str | None = None,
                    dynamodb_port: int = 0, table_name: str = DEFAULT_TABLE, authorizer_ttl: float | None = None,
                    workers: int = DEFAULT_WORKERS, streams: bool = True,
                    template_path: Path | None = None, events_file: str | Path | None = None) -> LocalApi:
    """Start DynamoDB (moto, unless `dynamodb_endpoint`), the table, the demo tenant and key, the table-stream
    consumers (`streams`; their events to the log and `events_file`) and the server, in background threads. Sets
    this process's environment (TABLE_NAME, DYNAMODB_ENDPOINT_URL, ...)."""
    from werkzeug.serving import make_server  # noqa: PLC0415

    _quiet_libraries()
    template = tpl.load_template(template_path)
    moto = None
    if dynamodb_endpoint is None:
        moto = EmbeddedDynamoDB(port=dynamodb_port)
        moto.start()
        dynamodb_endpoint = moto.url
    try:
        configure_environment(table_name, dynamodb_endpoint, template=template, events_file=events_file)
        ensure_table(dynamodb_endpoint, table_name, template)
        tenant, key_id, key = seed_demo_tenant()

        specs = tpl.functions(template)
        for spec in specs.values():
            if importlib.util.find_spec(spec.module) is None:
                raise RuntimeError(f"{spec.logical_id}: no module {spec.module}")
        invoker: Invoker = (ProcessPoolInvoker(workers, warm_modules=[s.module for s in specs.values()])
                            if workers > 0 else InProcessInvoker())
        gateway = Gateway(template, invoker=invoker, authorizer_ttl=authorizer_ttl)
        app = LocalServer(gateway)
        server = make_server(host, port, app, threaded=True)
        bound_port = server.server_address[1]
        url = f"http://{host}:{bound_port}"
        app.base_url = url
        thread = threading.Thread(target=server.serve_forever, name="tags-local", daemon=True)
        thread.start()
        pollers = _start_stream_consumers(gateway, table_name, dynamodb_endpoint) if streams else []
        app.status = functools.partial(_status, pollers, embedded=moto is not None)
    except BaseException:
        if moto is not None:
            moto.stop()
        raise
    return LocalApi(url=url, dynamodb_endpoint=dynamodb_endpoint, table_name=table_name, tenant_id=tenant,
                    api_key=key, api_key_id=key_id, gateway=gateway, _server=server, _thread=thread, _moto=moto,
                    _pollers=pollers)


def _status(pollers: list[Any], *, embedded: bool) -> dict[str, Any]:
    """What GET /_local/status answers: each stream consumer's progress (caught_up: it has read to the end of the
    stream and processed everything it read) and, with the embedded DynamoDB, what moto_fixes did so far."""
    consumers = [poller.status() for poller in pollers]
    return {"stream": consumers, "caught_up": all(c["caught_up"] for c in consumers),
            "dynamodb": moto_fixes.stats() if embedded else None}


def _start_stream_consumers(gateway: Gateway, table_name: str, endpoint_url: str) -> list[Any]:
    """One StreamPoller per function the template subscribes to the table's stream."""
    from tags_tools.local.stream_poller import StreamPoller  # noqa: PLC0415

    pollers = []
    for logical_id, batch_size in gateway.settings.stream_consumers.items():
        poller = StreamPoller(table_name, gateway.stream_handler(logical_id), endpoint_url=endpoint_url,
                              region=os.environ.get("AWS_REGION", REGION), batch_size=batch_size)
        poller.start()
        pollers.append(poller)
    return pollers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tags-local", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT),
                        help="port (default $PORT or 3000; 0 picks a free one)")
    parser.add_argument("--dynamodb-endpoint", metavar="URL",
                        help="use this DynamoDB (e.g. DynamoDB Local) instead of an in-memory one")
    parser.add_argument("--dynamodb-port", type=int, default=0, help="port of the in-memory DynamoDB (default: free)")
    parser.add_argument("--table", default=DEFAULT_TABLE, help=f"table name (default {DEFAULT_TABLE})")
    parser.add_argument("--authorizer-ttl", type=float, default=None,
                        help="seconds an authorizer result is reused (default: the template's ReauthorizeEvery)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"worker processes (default {DEFAULT_WORKERS}; 0: in this process, one at a time)")
    parser.add_argument("--no-streams", action="store_true", help="do not run the table-stream consumers")
    parser.add_argument("--events-file", metavar="PATH",
                        help="also append the change events (always logged) to this file, one JSON per line")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    api = start_local_api(args.port, host=args.host, dynamodb_endpoint=args.dynamodb_endpoint,
                          dynamodb_port=args.dynamodb_port, table_name=args.table,
                          authorizer_ttl=args.authorizer_ttl, workers=max(0, args.workers),
                          streams=not args.no_streams, events_file=args.events_file)
    print(f"API: {api.url}", flush=True)
    print(f"API key: {api.api_key}", flush=True)
    print(f"DynamoDB: {api.dynamodb_endpoint}", flush=True)
    print(f"Table: {api.table_name}", flush=True)
    print(f"Docs: {api.url}/docs", flush=True)
    if args.events_file:
        print(f"Events: {os.environ['EVENTS_FILE']}", flush=True)
    print(f"Try: curl -H 'Authorization: Bearer {api.api_key}' {api.url}/tags", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        api.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
