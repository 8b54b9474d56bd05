"""Pagination shared by every list: page numbers or opaque cursors, the `meta` and `links` of the contract.

A cursor is the store's position after the last item, bound to the tenant and to the query it continues, and
signed with HMAC-SHA256: a forged, altered or foreign cursor is refused with 400 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response

from tags_core.domain.listing import Listing, Window
from tags_core.errors import InvalidInput
from tags_core.http.request import principal, request_path
from tags_core.http.responses import ok
from tags_core.settings import get_settings

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_OFFSET = 10_000  # page-number pagination reads the skipped items; deeper than this, use the cursor


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes) -> bytes:
    return hmac.new(get_settings().cursor_secret.encode(), payload, hashlib.sha256).digest()[:16]


def query_fingerprint(params: dict[str, Any]) -> str:
    """What a cursor continues: the filters and sort (not the limit, which may change between pages)."""
    canonical = json.dumps({k: v for k, v in sorted(params.items()) if v is not None}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(tenant: str, fingerprint: str, position: dict[str, Any]) -> str:
    payload = json.dumps({"t": tenant, "q": fingerprint, "k": position}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_sign(payload))}"


def decode_cursor(cursor: str, tenant: str, fingerprint: str) -> dict[str, Any]:
    invalid = InvalidInput("The cursor is not valid for this list; start again without it.", field="cursor",
                           code="invalid_cursor")
    try:
        body, signature = cursor.split(".", 1)
        payload = _unb64(body)
        expected = _b64(_sign(payload))
        # compared as text: a non-canonical spelling of the same bytes (base64's spare bits) is not accepted
        if _b64(payload) != body or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise invalid
        data = json.loads(payload)
    except InvalidInput:
        raise
    except (ValueError, TypeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("t") != tenant or data.get("q") != fingerprint:
        raise invalid
    position = data.get("k")
    if not isinstance(position, dict):
        raise invalid
    return position


@dataclass(frozen=True)
class PageRequest:
    limit: int
    page: int | None
    cursor: str | None

    @classmethod
    def of(cls, limit: int, page: int | None, cursor: str | None) -> PageRequest:
        if page is not None and cursor is not None:
            raise InvalidInput("Use either page or cursor, not both.", field="cursor", code="conflicting_parameters")
        if page is not None and (page - 1) * limit >= MAX_OFFSET:
            raise InvalidInput(f"Page numbers reach the first {MAX_OFFSET} items; use the cursor to go further.",
                               field="page", code="out_of_range")
        return cls(limit=limit, page=page, cursor=cursor)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit if self.page else 0


def page_meta(request: PageRequest, *, path: str, query: dict[str, Any], count: int, total: int | None,
              next_cursor: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`meta` and `links` for one page. `query` holds the filters to repeat in links (limit is added here)."""
    base = {k: v for k, v in query.items() if v is not None}
    base["limit"] = request.limit

    def link(**extra: Any) -> str:
        return f"{path}?{urlencode({**base, **extra})}"

    last_page = max(1, math.ceil(total / request.limit)) if total is not None else None
    if request.cursor is None:
        current = request.page or 1
        start = request.offset + 1 if count else None
        meta = {"current_page": current, "from": start, "to": request.offset + count if count else None,
                "per_page": request.limit, "last_page": last_page, "total": total, "path": path,
                "next_cursor": next_cursor}
        links = {"first": link(page=1), "last": link(page=last_page) if last_page else None,
                 "prev": link(page=current - 1) if current > 1 else None,
                 "next": link(page=current + 1) if next_cursor else None}
    else:
        meta = {"current_page": None, "from": None, "to": None, "per_page": request.limit, "last_page": last_page,
                "total": total, "path": path, "next_cursor": next_cursor}
        links = {"first": link(page=1), "last": link(page=last_page) if last_page else None, "prev": None,
                 "next": link(cursor=next_cursor) if next_cursor else None}
    return meta, links


def paged(request: PageRequest, query: dict[str, Any], fetch: Callable[[Window], Listing], *,
          scope: dict[str, Any] | None = None) -> Response:
    """A page of a list with page numbers and cursors: `query` holds the filters links repeat, `scope` what else
    tells this list's cursors from another's; `fetch` reads the page the request points at."""
    tenant = principal().tenant
    fingerprint = query_fingerprint({**query, **(scope or {})})
    start = decode_cursor(request.cursor, tenant, fingerprint) if request.cursor else None
    listing = fetch(Window(limit=request.limit, skip=request.offset if start is None else 0, start=start))
    next_cursor = encode_cursor(tenant, fingerprint, listing.last) if listing.last else None
    meta, links = page_meta(request, path=request_path(), query=query, count=len(listing.items),
                            total=listing.total, next_cursor=next_cursor)
    return ok(listing.items, meta=meta, links=links)


def cursored(query: dict[str, Any], cursor: str | None,
             fetch: Callable[[Callable[[], dict[str, Any] | None]], Listing]) -> Response:
    """A page of a cursor-only list; `fetch` asks for the position to start at when it needs it."""
    tenant = principal().tenant
    fingerprint = query_fingerprint(query)
    listing = fetch(lambda: decode_cursor(cursor, tenant, fingerprint) if cursor else None)
    return ok(listing.items, meta={"next_cursor": encode_cursor(tenant, fingerprint, listing.last)
                                   if listing.last else None})
