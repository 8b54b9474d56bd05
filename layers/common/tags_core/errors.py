"""Domain exceptions. Domain code raises these; only `tags_core.api` turns them into HTTP responses."""

from __future__ import annotations

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
