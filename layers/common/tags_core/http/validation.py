"""Request parsing bounds: body size and the JSON the service accepts (validation errors: tags_core.errors)."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20

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
