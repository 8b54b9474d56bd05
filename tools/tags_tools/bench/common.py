"""What every phase of the benchmark shares: names, targets, the log, statistics and Markdown tables."""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any

from tags_tools import template as tpl

ROOT = tpl.ROOT
DOC_PATH = ROOT / "docs" / "benchmarks.md"
NOTES_PATH = ROOT / "docs" / "benchmarks-notes.md"  # hand-written; included in the generated file
REGION = "us-east-1"
TENANT = "bench"
API_TABLE = "tags-bench-api"
COST_TABLE = "tags-bench-cost"
RSS_TABLE = "tags-bench-rss"
EVENT_BUS = "tags-bench-bus"
FLOOR = "floor"
FLOOR_CODE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
MARK = "@@BENCH "

TARGET_COLD_RATIO = 1.3
TARGET_OVERHEAD_MS = {"read": 0.3, "write": 0.5}
TARGET_PAGE_RATIO = 1.1
TARGET_RSS_MB = 60.0
TARGET_SIZE_MB = 12.0

# Not API operations: measured cold and for cost, not for warm latency (keeps `make bench` under 5 minutes).
NOT_WARM = ("StreamProcessorFunction", "CommandConsumerFunction")

# What Lambda's Python runtime provides: boto3 and its dependency closure. Not counted in sizes, not shipped.
RUNTIME_ROOTS = ("boto3",)

PEERS = (
    ("Powertools + pydantic \"cookbook\"", "1.3-2.3x (create 2.2x)", "0.6-1.1 ms", "93-98 MB", "31 MB"),
    ("AWS SAM Python REST sample (no validation)", "1.7-1.8x", "0.1-0.4 ms", "58-63 MB", "21 MB"),
)

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.0f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def mb(size: float) -> str:
    return f"{size / 1_000_000:.2f}"


def table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A Markdown table padded to read well in a terminal too. `align`: l or r per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(3, *(len(str(c)) for c in column)) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                                 for c, w, a in zip(cells, widths, align, strict=False)) + " |"

    rule = "|" + "|".join(":" + "-" * (w + 1) if a == "l" else "-" * (w + 1) + ":"
                          for w, a in zip(widths, align, strict=False)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"

