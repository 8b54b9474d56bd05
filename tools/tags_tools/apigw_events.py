"""Lambda events as API Gateway (REST API, v1 payload) sends them, and its route matching.

`rest_event` builds the Lambda proxy integration event (the shape `sam local generate-event apigateway aws-proxy`
produces), `token_authorizer_event` the TOKEN authorizer's input, and `Router` resolves a request against the
template's routes the way API Gateway does: resource first (literal segments beat `{param}`, which beats
`{param+}`), then method; an unknown path and a known path with another method are told apart.

What API Gateway does with the raw request, mirrored here:
- `path` keeps its percent-encoding; `pathParameters` and query parameters are decoded.
- `headers` / `queryStringParameters` hold the last value of a repeated name, `multiValue*` all of them.
- `queryStringParameters`, `multiValueQueryStringParameters`, `pathParameters` and `stageVariables` are null
  when empty; `body` is null without a body.
- The authorizer's `context` values reach the function as strings, next to its `principalId`.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tags_tools.template import Route

__all__ = [
    "ACCOUNT_ID",
    "API_ID",
    "REGION",
    "STAGE",
    "MethodNotAllowed",
    "RouteMatch",
    "RouteNotFound",
    "Router",
    "method_arn",
    "rest_event",
    "token_authorizer_event",
]

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
API_ID = "tagslocal1"  # API Gateway ids are 10 lowercase letters and digits
STAGE = "v1"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Pairs = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _pairs(values: Pairs | None) -> list[tuple[str, str]]:
    """Name/value pairs from a mapping (a value may be a list of values) or an iterable of pairs, order kept."""
    if values is None:
        return []
    items = values.items() if isinstance(values, Mapping) else values
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, str):
            pairs.append((str(name), value))
        else:
            pairs.extend((str(name), str(v)) for v in value)
    return pairs


def _single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last one wins, as in API Gateway
        multi.setdefault(name, []).append(value)
    return single, multi


def _request_time(epoch_ms: int) -> str:
    """API Gateway's `requestTime`: `24/Nov/2026:10:00:00 +0000` (CLF, English month, whatever the locale)."""
    at = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return f"{at.day:02d}/{_MONTHS[at.month - 1]}/{at.year}:{at:%H:%M:%S} +0000"


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def method_arn(method: str, path: str, *, stage: str = STAGE, api_id: str = API_ID, region: str = REGION,
               account_id: str = ACCOUNT_ID) -> str:
    """`arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path without leading slash>`."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method.upper()}/{path.lstrip('/')}"


def token_authorizer_event(token: str, method: str, path: str, **arn: str) -> dict[str, Any]:
    """The input of a TOKEN authorizer: the identity source's value and the ARN of the method being called."""
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn(method, path, **arn)}


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    headers: Pairs | None = None,
    query: Pairs | None = None,
    body: str | bytes | None = None,
    is_base64_encoded: bool | None = None,
    authorizer: Mapping[str, Any] | None = None,
    principal_id: str | None = None,
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    request_time_epoch_ms: int | None = None,
    stage: str = STAGE,
    client_path: str | None = None,
    api_id: str = API_ID,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """A REST API Lambda proxy event.

    `path` is the request path without stage and query (percent-encoding kept); `resource` the template path it
    matched (defaults to `path`); `query` decoded name/value pairs; `authorizer` the authorizer's context (None:
    no authorizer ran); `client_path` the path as the client called it (default: `/<stage><path>`, as on the
    execute-api URL; a custom domain's base path or a server without a stage differs). A `bytes` body that is
    not UTF-8 (or `is_base64_encoded=True`) is sent base64-encoded.
    """
    method = method.upper()
    header_pairs = _pairs(headers)
    single_headers, multi_headers = _single_and_multi(header_pairs)
    query_single, query_multi = _single_and_multi(_pairs(query))

    text, encoded = _body_text(body, bool(is_base64_encoded))
    resource = resource or path
    request_context = _request_context(
        method, path, resource, header_pairs, source_ip=source_ip, request_id=request_id,
        epoch_ms=request_time_epoch_ms if request_time_epoch_ms is not None else int(time.time() * 1000),
        stage=stage, client_path=client_path, api_id=api_id, account_id=account_id)
    if authorizer is not None or principal_id is not None:
        context: dict[str, Any] = {str(k): _stringify(v) for k, v in (authorizer or {}).items()}
        context["principalId"] = principal_id or context.get("principalId") or context.get("key_id", "")
        context["integrationLatency"] = 0  # a number, as API Gateway sends it
        request_context["authorizer"] = context

    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": encoded,
    }


def _body_text(body: str | bytes | None, encoded: bool) -> tuple[str | None, bool]:
    """(the event's body, isBase64Encoded): a bytes body that is not UTF-8 is sent base64-encoded."""
    text: str | None
    if body is None or body in ("", b""):
        text = None
    elif isinstance(body, bytes):
        if not encoded:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                encoded = True
        if encoded:
            text = base64.b64encode(body).decode("ascii")
    else:
        text = base64.b64encode(body.encode("utf-8")).decode("ascii") if encoded else body
    return text, encoded


def _request_context(method: str, path: str, resource: str, header_pairs: list[tuple[str, str]], *, source_ip: str,
                     request_id: str | None, epoch_ms: int, stage: str, client_path: str | None, api_id: str,
                     account_id: str) -> dict[str, Any]:
    """The event's requestContext, without the authorizer's part."""
    user_agent = next((v for k, v in reversed(header_pairs) if k.lower() == "user-agent"), None)
    host = next((v for k, v in reversed(header_pairs) if k.lower() == "host"), None)
    domain = host or f"{api_id}.execute-api.{REGION}.amazonaws.com"
    return {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "extendedRequestId": secrets.token_urlsafe(12)[:15] + "=",
        "httpMethod": method,
        "identity": {
            "accessKey": None, "accountId": None, "apiKey": None, "apiKeyId": None, "caller": None,
            "clientCert": None, "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
            "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
            "sourceIp": source_ip, "user": None, "userAgent": user_agent, "userArn": None,
        },
        "path": client_path if client_path is not None else f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id or str(uuid.uuid4()),
        "requestTime": _request_time(epoch_ms),
        "requestTimeEpoch": epoch_ms,
        "resourceId": secrets.token_hex(3),
        "resourcePath": resource,
        "stage": stage,
    }


# --- routing ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]  # decoded


class RouteNotFound(LookupError):
    """No resource of the API matches the path."""


class MethodNotAllowed(LookupError):
    """The path is a resource of the API, without this method."""

    def __init__(self, resource: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{resource} allows {', '.join(allowed)}")
        self.resource = resource
        self.allowed = allowed


_PARAM = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")


@dataclass(frozen=True)
class _Resource:
    path: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    specificity: tuple[int, ...]  # per segment: 0 literal, 1 {param}, 2 {param+}; smaller is more specific


def _compile(path: str) -> _Resource:
    segments = [s for s in path.strip("/").split("/") if s]
    parts: list[str] = []
    names: list[str] = []
    rank: list[int] = []
    for index, segment in enumerate(segments):
        param = _PARAM.match(segment)
        if not param:
            parts.append(re.escape(segment))
            rank.append(0)
            continue
        name, greedy = param.groups()
        if greedy and index != len(segments) - 1:
            raise ValueError(f"{path}: a greedy parameter must be the last segment")
        names.append(name)
        parts.append(f"(?P<p{len(names) - 1}>.+)" if greedy else f"(?P<p{len(names) - 1}>[^/]+)")
        rank.append(2 if greedy else 1)
    pattern = re.compile("^/" + "/".join(parts) + "/?$" if parts else "^/$")
    return _Resource(path=path, pattern=pattern, names=tuple(names), specificity=tuple(rank))


class Router:
    """API Gateway's request routing over the template's routes. `ANY` routes accept every method."""

    def __init__(self, routes: Iterable[Route], *, implicit_methods: Iterable[str] = ()) -> None:
        """`implicit_methods`: methods every resource answers besides its routes (e.g. OPTIONS with CORS on)."""
        self._methods: dict[str, dict[str, Route]] = {}
        for route in routes:
            methods = self._methods.setdefault(route.path, {})
            if route.method in methods:
                raise ValueError(f"two routes for {route.method} {route.path}")
            methods[route.method] = route
        self._resources = sorted((_compile(path) for path in self._methods), key=lambda r: r.specificity)
        self._implicit = tuple(m.upper() for m in implicit_methods)

    @property
    def routes(self) -> list[Route]:
        return [route for methods in self._methods.values() for route in methods.values()]

    def resolve(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The resource (template path) a request path belongs to and its decoded parameters, or None."""
        for resource in self._resources:
            found = resource.pattern.match(path)
            if found:
                params = {name: unquote(found.group(f"p{i}")) for i, name in enumerate(resource.names)}
                return resource.path, params
        return None

    def allowed_methods(self, resource: str) -> tuple[str, ...]:
        methods = set(self._methods.get(resource, {})) | set(self._implicit)
        order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY")
        return tuple(sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m)))

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for a request (path without stage or query, percent-encoded as received).

        Raises RouteNotFound for an unknown path and MethodNotAllowed (with the allowed methods) for a known path
        without this method. A method in `implicit_methods` without a route also raises MethodNotAllowed; the
        caller answers it (a CORS preflight) itself.
        """
        resolved = self.resolve(path)
        if resolved is None:
            raise RouteNotFound(path)
        resource, params = resolved
        methods = self._methods[resource]
        route = methods.get(method.upper()) or methods.get("ANY")
        if route is None:
            raise MethodNotAllowed(resource, self.allowed_methods(resource))
        return RouteMatch(route=route, path_parameters=params)
