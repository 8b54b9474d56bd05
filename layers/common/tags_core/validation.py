"""Request parsing bounds and the translation of validation failures into the contract's error entries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20

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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def parse_json_body(body: str) -> Any:
    """json.loads with the service's bounds. Failures are JSONDecodeError, which the resolver maps to 400."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", body[:50], 0) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(exc), body[:50], 0) from None
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", body[:50], 0)
    return value


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
