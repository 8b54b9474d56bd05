"""Attribute-value marshalling: plain values to DynamoDB's typed attributes and back (the low-level client is
cheaper to create than boto3's resource layer)."""

from __future__ import annotations

from typing import Any


def to_attr(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: to_attr(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attr(attr: dict[str, Any]) -> Any:  # noqa: PLR0911 - one return per attribute type
    for kind, value in attr.items():  # exactly one; a loop is the cheapest way to take it (list pages call this
        if kind == "S":                # a few hundred times per request)
            return value
        if kind == "N":
            return int(value) if "." not in value else float(value)
        if kind == "M":
            return {k: from_attr(v) for k, v in value.items()}
        if kind == "BOOL":
            return value
        if kind == "NULL":
            return None
        if kind == "L":
            return [from_attr(v) for v in value]
        if kind == "SS":
            return set(value)
        raise TypeError(f"unexpected attribute type {kind}")
    raise TypeError("empty attribute value")


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: to_attr(v) for k, v in data.items()}


def from_item(item: dict[str, Any], *, without: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Plain values of an item; attributes named in `without` are left out (never converted)."""
    return {k: from_attr(v) for k, v in item.items() if k not in without}
