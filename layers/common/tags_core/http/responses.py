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


def responses(status: int, model: type[BaseModel] | None, *errors: int, description: str = "Success",
              also: dict[int, tuple[type[BaseModel], str]] | None = None) -> dict:
    """OpenAPI `responses` for a route: its success model, other successes (`also`: status → (model,
    description)) and the error statuses it can answer with."""
    documented: dict[int, Any] = {
        status: {"description": description, "content": {JSON: {"model": model}}} if model
        else {"description": description},
    }
    for other, (other_model, text) in (also or {}).items():
        documented[other] = {"description": text, "content": {JSON: {"model": other_model}}}
    # Any route: API Gateway's stage throttling (429) and the generic error of a failed function (500) too.
    for code in sorted({400, 401, 403, 429, 500, 503, *errors}):
        documented[code] = {"description": _ERROR_TEXT[code], "content": {JSON: {"model": ErrorEnvelope}}}
    return documented


def etag(version: int) -> dict[str, str]:
    """The ETag header of a resource (or an object's tag set) at `version`: what If-Match takes back."""
    return {"ETag": f'"{version}"'}


def versioned(data: Any, *, meta: dict[str, Any] | None = None) -> Response:
    """A tag or group (its `version`), or an object's tags (`meta.version`), with its version as ETag."""
    version = meta["version"] if meta is not None else data["version"]
    return ok(data, meta=meta, headers=etag(version))
