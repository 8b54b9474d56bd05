"""What a route answers with: the `data` envelope (with `meta` and `links` for lists), the ETag of a versioned
resource, and the OpenAPI `responses` of a route."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from tags_core.http.envelope import JSON
from tags_core.http.schemas import ErrorEnvelope


def ok(data: Any, status: int = 200, *, meta: dict[str, Any] | None = None, links: dict[str, Any] | None = None,
       headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"data": data}
    if meta is not None:
        body["meta"] = meta
    if links is not None:
        body["links"] = links
    return Response(status_code=status, content_type=JSON, body=_json(body), headers=headers or {})


def _json(body: dict[str, Any]) -> str | dict[str, Any]:
    """The body as the resolver would serialize it (compact JSON), serialized once by the C encoder: a string body
    skips the validation middleware's recursive jsonable_encoder, about a third of a list request's own time.
    Anything plain JSON cannot hold (a set, ...) is left to the resolver's encoders, as before."""
    try:
        return json.dumps(body, separators=(",", ":"))
    except (TypeError, ValueError):
        return body


_ERROR_TEXT = {400: "Invalid request", 401: "Missing, unknown or revoked API key", 403: "The key lacks the role",
               404: "Not found in this tenant", 409: "Conflict", 412: "Stale If-Match", 413: "Body over 64 KiB",
               415: "Body is not JSON", 429: "Rate limited; retry after Retry-After",
               500: "Internal error: a generic message and the request id",
               503: "Store busy; retry after Retry-After"}

_INTEGER = {"type": "integer", "minimum": 0}
# The response headers of the contract, declared once (components/headers of the OpenAPI document) and referred to
# per operation and status, so a generated client can read them.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "The request's id (also the error body's `request_id`); quote it in a report.",
                     "required": True, "schema": {"type": "string", "minLength": 1}},
    "ETag": {"description": 'The version of the resource (an object\'s tag set) in double quotes, `"3"`: what '
                            "`If-Match` takes back.", "required": True,
             "schema": {"type": "string", "pattern": r'^"[0-9]{1,12}"$'}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "required": True,
                    "schema": {**_INTEGER, "minimum": 1}},
    "Idempotent-Replayed": {"description": "`true` on an answer replayed for a repeated `Idempotency-Key`.",
                            "schema": {"type": "string", "enum": ["true"]}},
    "RateLimit-Policy": {"description": "The per key and object write limit: `<limit>;w=<window seconds>` (IETF "
                                        "httpapi rate-limit headers, draft 07). Absent on the stage's own 429.",
                         "schema": {"type": "string", "pattern": r"^[0-9]+;w=[0-9]+$"}},
    "RateLimit": {"description": "The caller's write budget on this object: `limit=<n>, remaining=<writes left>, "
                                 "reset=<seconds until one more is allowed, 0 when none is counted>`.",
                  "schema": {"type": "string", "pattern": r"^limit=[0-9]+, remaining=[0-9]+, reset=[0-9]+$"}},
    "RateLimit-Limit": {"description": "Older spelling of `RateLimit`'s limit (429 of the write limit only).",
                        "schema": _INTEGER},
    "RateLimit-Remaining": {"description": "Older spelling of `RateLimit`'s remaining (always 0 on a 429).",
                            "schema": _INTEGER},
    "RateLimit-Reset": {"description": "Older spelling of `RateLimit`'s reset (as `Retry-After`).",
                        "schema": _INTEGER},
}
HEADER_REF_PREFIX = "#/components/headers/"
RATE_LIMIT_HEADERS = ("RateLimit-Policy", "RateLimit")
RATE_LIMITED_HEADERS = (*RATE_LIMIT_HEADERS, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": HEADER_REF_PREFIX + name} for name in ("X-Request-Id", *names)}


def responses(status: int, model: type[BaseModel] | None, *errors: int, description: str = "Success",
              etag: bool = False, write_budget: bool = False,
              also: dict[int, tuple[type[BaseModel], str]] | None = None) -> dict:
    """OpenAPI `responses` for a route: its success model, other successes (`also`: status → (model,
    description)) and the error statuses it can answer with, each with the headers it carries: `X-Request-Id`
    always, `Retry-After` on 429 and 503, `ETag` on success when `etag`, the rate-limit headers on success and 429
    when the route spends the per-object `write_budget`."""
    success = (("ETag",) if etag else ()) + (RATE_LIMIT_HEADERS if write_budget else ())
    documented: dict[int, Any] = {
        status: {"description": description, "headers": header_refs(*success),
                 **({"content": {JSON: {"model": model}}} if model else {})},
    }
    for other, (other_model, text) in (also or {}).items():
        documented[other] = {"description": text, "headers": header_refs(), "content": {JSON: {"model": other_model}}}
    # Any route: API Gateway's stage throttling (429) and the generic error of a failed function (500) too.
    for code in sorted({400, 401, 403, 429, 500, 503, *errors}):
        extra: tuple[str, ...] = ("Retry-After",) if code in (429, 503) else ()
        if code == 429 and write_budget:
            extra += RATE_LIMITED_HEADERS
        documented[code] = {"description": _ERROR_TEXT[code], "headers": header_refs(*extra),
                            "content": {JSON: {"model": ErrorEnvelope}}}
    return documented


def etag(version: int) -> dict[str, str]:
    """The ETag header of a resource (or an object's tag set) at `version`: what If-Match takes back."""
    return {"ETag": f'"{version}"'}


def versioned(data: Any, status: int = 200, *, meta: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Response:
    """A tag or group (its `version`), or an object's tags (`meta.version`), with its version as ETag (and any
    other `headers`, e.g. the rate limit's)."""
    version = meta["version"] if meta is not None else data["version"]
    return ok(data, status, meta=meta, headers={**etag(version), **(headers or {})})
