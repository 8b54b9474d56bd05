"""Domain exceptions and the contract's error entries. Domain code raises these; only `tags_core.http.resolver`
turns them into HTTP responses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    """A failure a client can act on. `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.extra = extra

    def entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            entry["field"] = self.field
        entry.update(self.extra)
        return [entry]


class InvalidInput(DomainError):
    """400 with one or more field problems."""

    status = 400
    code = "invalid_value"

    def __init__(self, message: str = "The request is invalid.", *, field: str | None = None, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(message, field=field, code=code, **extra)
        self._errors = errors

    def entries(self) -> list[dict[str, Any]]:
        return self._errors if self._errors else super().entries()


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}


class ServiceUnavailable(DomainError):
    """The store is throttling or failing; safe to retry after `retry_after` seconds."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str = "The service is busy; retry shortly.", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- validation failures (pydantic) as the contract's error entries ------------------------------------------

# pydantic error type → the stable `code` clients see (documented in docs/errors.md).
_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_too_short": "too_short",
    "too_short": "too_short",
    "literal_error": "invalid_choice",
    "enum": "invalid_choice",
    "string_pattern_mismatch": "invalid_format",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "value_error": "invalid_value",
    "assertion_error": "invalid_value",
}


def field_path(loc: Sequence[Any]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "headers"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith("function-after") and not part.startswith("tagged-union"):
            out += ("." if out else "") + part
    return out or None


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg") or "Invalid value.")
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def validation_entries(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for error in errors:
        kind = str(error.get("type", ""))
        code = _CODES.get(kind) or ("invalid_type" if kind.endswith("_type") or kind.endswith("_parsing")
                                    else "invalid_value")
        entry: dict[str, Any] = {"code": code, "message": _message(error)}
        if kind == "json_invalid":
            ctx = error.get("ctx") or {}
            entry["message"] = f"The body is not valid JSON: {ctx.get('error', 'parse error')}."
        else:
            path = field_path(error.get("loc") or ())
            if path:
                entry["field"] = path
        entries.append(entry)
    return entries
