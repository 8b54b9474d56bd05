"""API Gateway in front of the template's functions, in process: route matching (unknown path 404, known path with
another method 405), CORS preflights, the TOKEN authorizer (identity header, validation expression, policy
evaluation, result cache), the REST proxy event, the proxy answer's translation, and the gateway's own errors in
the service's envelope. The WSGI server (server.py) and the tests' `invoke` fixture both go through `Gateway.handle`.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tags_tools import template as tpl
from tags_tools.apigw_events import (
    API_ID,
    MethodNotAllowed,
    RouteMatch,
    RouteNotFound,
    Router,
    method_arn,
    rest_event,
    token_authorizer_event,
)
from tags_tools.local.authorizer import (
    AuthorizerCache,
    AuthorizerError,
    as_list,
    check_authorizer_result,
    policy_allows,
)
from tags_tools.local.invokers import InProcessInvoker, Invoker, Outcome
from tags_tools.local.settings import ApiSettings

__all__ = ["JSON_TYPE", "MAX_GATEWAY_BODY", "Gateway", "GatewayRequest", "GatewayResponse"]

logger = logging.getLogger(__name__)

MAX_GATEWAY_BODY = 10 * 1024 * 1024  # API Gateway's own payload limit; the functions enforce the 64 KiB one
JSON_TYPE = "application/json"
_UNSET: Any = object()


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

        match = self._route(method, request.path, request_id)
        if isinstance(match, GatewayResponse):
            return match

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
        return self._integrate(self.functions[match.route.function], event, request_id)

    def _route(self, method: str, path: str, request_id: str) -> RouteMatch | GatewayResponse:
        """The route API Gateway picks, or its own answer: 404, 405 with Allow, or a CORS preflight."""
        try:
            return self.router.match(method, path)
        except RouteNotFound:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id)
        except MethodNotAllowed as exc:
            if method == "OPTIONS" and self.settings.cors is not None:
                return self._preflight(request_id)
            return self.gateway_error("METHOD_NOT_ALLOWED", request_id, method=method,
                                      headers={"Allow": ", ".join(exc.allowed)})

    def _integrate(self, spec: tpl.FunctionSpec, event: dict[str, Any], request_id: str) -> GatewayResponse:
        """Invoke the route's function with the proxy event and translate its answer (a failure is a 500)."""
        outcome = self._invoke(spec, event)
        if not outcome.ok:
            return self._function_failed(spec, outcome, request_id, event)
        try:
            response = self._translate(outcome.value)
        except (TypeError, ValueError) as exc:
            logger.error("%s returned a malformed proxy response (%s); request %s", spec.logical_id, exc, request_id)
            response = self.gateway_error("DEFAULT_5XX", request_id)
        response.event = event
        response.lambda_response = outcome.value
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

    def _invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], *, event_source: bool = False) -> Outcome:
        timeout = float(self.settings.timeout.get(spec.logical_id, 3))
        return self.invoker.invoke(spec, event, self._context_fields(spec), timeout + 5.0, event_source=event_source)

    def stream_handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """A handler for StreamPoller that runs the function like its other invocations (raises when it fails)."""
        spec = self.functions[logical_id]

        def handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            outcome = self._invoke(spec, event, event_source=True)
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
            answer = self._call_authorizer(token, method, request.path, request_id)
            if isinstance(answer, GatewayResponse):
                return answer
            self.authorizer_cache.put(token, answer)
            result = answer
        if not policy_allows(result["policyDocument"], arn):
            return self.gateway_error("ACCESS_DENIED", request_id)
        return dict(result.get("context") or {}), str(result["principalId"])

    def _call_authorizer(self, token: str, method: str, path: str,
                         request_id: str) -> dict[str, Any] | GatewayResponse:
        """The authorizer function's answer (not cached yet), or the gateway's error when it refused or failed."""
        assert self.authorizer_spec is not None
        event = token_authorizer_event(token, method, path, stage=self.settings.stage, api_id=self.api_id)
        outcome = self._invoke(self.authorizer_spec, event)
        if not outcome.ok:
            if outcome.error_message == "Unauthorized":
                return self.gateway_error("UNAUTHORIZED", request_id)
            logger.error("the authorizer failed on request %s: %s: %s\n%s", request_id, outcome.error_type,
                         outcome.error_message, outcome.trace)
            return self.gateway_error("AUTHORIZER_FAILURE", request_id)
        try:
            return check_authorizer_result(outcome.value)
        except AuthorizerError as exc:
            logger.error("request %s: %s", request_id, exc)
            return self.gateway_error("AUTHORIZER_CONFIGURATION_ERROR", request_id)

    @staticmethod
    def _translate(value: Any) -> GatewayResponse:
        """A proxy integration answer → status, headers (single and multi-value merged like API Gateway), body."""
        if not isinstance(value, dict):
            raise TypeError("the handler did not return an object")
        status = int(value.get("statusCode", 200))
        multi = {str(k): [str(v) for v in as_list(vs)] for k, vs in (value.get("multiValueHeaders") or {}).items()}
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

