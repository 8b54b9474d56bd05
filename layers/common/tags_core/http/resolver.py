"""The one place that builds the HTTP layer: resolver with validation, CORS, error envelope and exception mapping.

A function's app.py does `app = build_app()`, declares its one route and exports `lambda_handler = handler(app)`.
Domain code raises `tags_core.errors` exceptions; they become responses here and nowhere else. What a route reads
of its request is in `tags_core.http.request`, what it answers with in `tags_core.http.responses`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from pydantic import BaseModel

from tags_core.errors import (
    DomainError,
    InvalidInput,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    validation_entries,
)
from tags_core.http import idempotency, snapstart
from tags_core.http.envelope import JSON, error_body
from tags_core.http.identity import principal_from_event
from tags_core.http.validation import MAX_BODY_BYTES, parse_json_body
from tags_core.observability import count_error, count_request, logger, metrics, observed

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Idempotency-Key", "If-Match"],
    expose_headers=["X-Request-Id", "ETag", "Retry-After", "Idempotent-Replayed", "RateLimit-Policy", "RateLimit",
                    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
    max_age=600,
)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _request_id(event: dict[str, Any]) -> str:
    return ((event.get("requestContext") or {}).get("requestId")) or str(uuid.uuid4())


def _error(status: int, entries: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Response:
    request_id = _request_id(BaseRouter.current_event.raw_event)
    return Response(status_code=status, content_type=JSON, body=error_body(status, entries, request_id),
                    headers=headers or {})


class _Event(APIGatewayProxyEvent):
    """Powertools rebuilds the case-insensitive header maps on every read, four times a request (validation, CORS,
    compression, this layer): read once per event."""

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        return super().headers

    @functools.cached_property
    def multi_value_headers(self) -> dict[str, list[str]]:
        return super().multi_value_headers


class _Resolver(APIGatewayRestResolver):
    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        return _Event(event, self._json_body_deserializer)


def build_app() -> APIGatewayRestResolver:
    app = _Resolver(enable_validation=True, cors=CORS, json_body_deserializer=parse_json_body)

    @app.exception_handler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        return _error(exc.status, exc.entries(), {"Retry-After": str(exc.retry_after), **exc.headers})

    @app.exception_handler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response:
        return _error(exc.status, exc.entries(), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response:
        return _error(exc.status, exc.entries())

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(exc: RequestUnsupportedContentType) -> Response:
        return _domain(UnsupportedMediaType("Send the body as application/json."))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return _error(400, validation_entries(exc.errors()))

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        return _error(404, [{"code": "not_found", "message": "No such route."}])

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return _error(500, [{"code": "internal_error",
                             "message": "Something went wrong on our side; quote the request id if it persists."}])

    app.use(middlewares=[_reject_unknown_query_params])
    return app


def _reject_unknown_query_params(app: APIGatewayRestResolver, next_middleware: Callable[..., Response]) -> Response:
    route = app.context.get("_route")
    given = set((app.current_event.query_string_parameters or {}).keys())
    if route is not None and given and route.dependant is not None:
        known: set[str] = set()
        for param in route.dependant.query_params:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                known.update(f.alias or name for name, f in annotation.model_fields.items())
            else:
                known.add(param.alias)
        unknown = sorted(given - known)
        if unknown:
            return _error(400, [{"code": "unknown_parameter", "message": f"Unknown query parameter {name!r}.",
                                 "field": name} for name in unknown])
    return next_middleware(app)


def _preflight(event: dict[str, Any]) -> None:
    """Checks that need no route: caller identity and role, body size, content type. Raises DomainError."""
    method = (event.get("httpMethod") or "").upper()
    if method == "OPTIONS":
        return
    principal_from_event(event).require(method)
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    if body:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        content_type = (headers.get("content-type") or JSON).split(";")[0].strip().lower()
        if content_type != JSON:
            raise UnsupportedMediaType("Send the body as application/json.")
        if event.get("isBase64Encoded"):  # bytes that are not UTF-8 text arrive base64-encoded: not JSON
            try:
                base64.b64decode(body, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidInput("The body is not valid JSON: it is not UTF-8 text.", code="invalid_json") from None


def _idempotency_key(event: dict[str, Any]) -> str | None:
    if (event.get("httpMethod") or "").upper() != "POST":
        return None
    headers = event.get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)


def _query(event: dict[str, Any]) -> list[tuple[str, str]]:
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    return [(name, value) for name, values in multi.items() for value in values] if multi else list(single.items())


def _error_headers(exc: DomainError) -> dict[str, str]:
    """The headers an error answered outside the resolver carries: Retry-After (and the rate limit's) on 429 and
    503, WWW-Authenticate on 401."""
    headers: dict[str, str] = {}
    if isinstance(exc, (RateLimited, ServiceUnavailable)):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def _operation(app: APIGatewayRestResolver) -> str:
    """The operation id of the function's one route (its metrics' `operation` dimension)."""
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return routes[0].operation_id if len(routes) == 1 else "api"


def _begin(event: dict[str, Any]) -> None:
    """Who and what, on every log line of the request; the tenant as a property of its metrics."""
    context = event.get("requestContext") or {}
    logger.set_correlation_id(context.get("requestId"))  # read directly: the JMESPath query cost ~4 us a request
    caller = context.get("authorizer") or {}
    tenant = caller.get("tenant")
    logger.append_keys(tenant=tenant, key_id=caller.get("key_id"),
                       route=f"{event.get('httpMethod')} {event.get('resource')}")
    if tenant:
        metrics.add_metadata(key="tenant", value=tenant)


def _end(operation: str, response: dict[str, Any]) -> None:
    """The request line (status included) and the request's metrics; an error's code from the envelope."""
    status = int(response.get("statusCode") or 500)
    logger.append_keys(status=status)
    count_request()
    if status < 400:
        logger.info("request")
        return
    try:
        code = str(json.loads(response.get("body") or "{}")["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        code = f"http_{status}"
    count_error(operation, code)
    (logger.error if status >= 500 else logger.info)("request failed", extra={"error_code": code})


def handler(app: APIGatewayRestResolver) -> Handler:
    """The Lambda entry point for a function's resolver: logs and metrics around it (tags_core.observability),
    identity checks first, X-Request-Id on every answer."""
    operation = _operation(app)
    snapstart.register()

    @observed(operation)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _begin(event)
        response = _respond(app, event, context)
        _end(operation, response)
        return response

    return lambda_handler


def _respond(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = _request_id(event)
    response: dict[str, Any]
    try:
        _preflight(event)
        key = _idempotency_key(event)
        if key is None:
            response = app.resolve(event, context)
        else:
            route = f"{event.get('httpMethod')} {event.get('path')}"  # the object, not the route template
            tenant = principal_from_event(event).tenant
            response = idempotency.run_once(tenant, route, key, event.get("body"), context,
                                            lambda: app.resolve(event, context), query=_query(event))
    except DomainError as exc:
        response = {"statusCode": exc.status,
                    "headers": {"Content-Type": JSON, "Access-Control-Allow-Origin": "*", **_error_headers(exc)},
                    "body": json.dumps(error_body(exc.status, exc.entries(), request_id), separators=(",", ":")),
                    "isBase64Encoded": False}
    response.setdefault("headers", {})["X-Request-Id"] = request_id
    if response.get("multiValueHeaders") is not None:
        response["multiValueHeaders"]["X-Request-Id"] = [request_id]
    return response
