"""The service's clock: timestamps as the API and the stored items write them (RFC 3339, milliseconds, UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now() -> float:
    """Seconds since the epoch. Code that measures time spans (the write budget) asks this function, so tests can
    move time by replacing it instead of sleeping."""
    return time.time()
