"""Optimistic concurrency on a tag or group: the version a client read (`If-Match`) against the stored one."""

from __future__ import annotations

from typing import Any

from tags_core.errors import PreconditionFailed


def read_consistently(attempt: int, expected: int | None) -> bool:
    """A retry reads the latest write; so does a request with If-Match (a version the client has just seen must
    not look stale)."""
    return attempt > 0 or expected is not None


def expect_version(record: dict[str, Any], expected: int | None, noun: str) -> None:
    """412 precondition_failed when If-Match named another version than the record's."""
    if expected is not None and record["version"] != expected:
        raise PreconditionFailed(f"The {noun} is at version {record['version']}, not {expected}.", field="If-Match")
