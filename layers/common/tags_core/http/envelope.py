"""The response envelopes of the contract. Used by the resolver and by the local server for its own errors."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from tags_core.clock import now_iso

JSON = "application/json"


# Python's phrase for 413 changed across versions; the API says the same thing everywhere.
_DESCRIPTIONS = {413: "Payload Too Large"}


def error_body(status: int, entries: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    try:
        description = _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
    except ValueError:
        description = "Error"
    return {"status": status, "description": description, "response_time": now_iso(),
            "request_id": request_id, "errors": entries}


def error_json(status: int, code: str, message: str, request_id: str) -> str:
    return json.dumps(error_body(status, [{"code": code, "message": message}], request_id), separators=(",", ":"))
