"""The benchmark's results (`Report`) turned into figures: the rows of each table, the worst cases, and the targets
met or not. document.py writes them out."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.cold import ColdResult
from tags_tools.bench.common import (
    FLOOR,
    TARGET_COLD_RATIO,
    TARGET_OVERHEAD_MS,
    TARGET_PAGE_RATIO,
    TARGET_RSS_MB,
    TARGET_SIZE_MB,
    fmt,
    mb,
    median,
    percentile,
    verdict,
)
from tags_tools.bench.cost import Cost
from tags_tools.bench.memory import RssResult
from tags_tools.bench.size import SizeResult
from tags_tools.bench.warm import WarmResult

Ratio = tuple[str, float, float, float]  # (function, own / floor, total / floor, CPU / floor CPU)


@dataclass
class Report:
    started: dt.datetime
    seconds: float
    args: argparse.Namespace
    memory: int
    architectures: list[str]
    cold: dict[str, ColdResult]
    profiled: str
    profile: dict[str, list[tuple[str, float]]]  # "floor" / the profiled function -> [(package, ms)]
    warm: list[WarmResult]
    cost: dict[int, dict[str, Cost]]
    rss: list[RssResult]
    size: SizeResult
    finding: list[Any] = field(default_factory=list)  # finding.FindRow: items read per page of GET /{kind}?all=...


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    memory = ""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError):
        load = "; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = []
    for dist in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
    return {"host": f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}{load}",
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "versions": ", ".join(versions)}


def runtime() -> str:
    """The Lambda runtime the template's functions run on."""
    return str(((tpl.load_template().get("Globals") or {}).get("Function") or {}).get("Runtime", "?"))


@dataclass
class Figures:
    """What the document and the summary show, computed once from a Report."""

    floor_ms: float
    floor_cpu: float
    cold_rows: list[list[str]]
    ratios: list[Ratio]
    worst: Ratio
    over: list[str]  # functions over the cold start target
    warm_rows: list[list[str]]
    worst_overhead: dict[str, tuple[str, float]]  # "read" / "write" -> (operation, overhead p50)
    sizes: list[int]
    small: int
    big: int
    cost_rows: list[list[str]]
    worst_page: tuple[str, float]
    rss_peak: float
    floor_rss: float


def figures(r: Report) -> Figures:
    floor = r.cold[FLOOR]
    floor_ms, floor_cpu = median(floor.imports), median(floor.cpu)
    cold_rows, ratios = _cold_rows(r, floor_ms, floor_cpu)
    worst = max(ratios, key=lambda x: x[1]) if ratios else ("-", math.nan, math.nan, math.nan)
    over = [name for name, ratio, _, _ in ratios if ratio > TARGET_COLD_RATIO]
    warm_rows, worst_overhead = _warm_rows(r)
    sizes = sorted(r.cost)
    small, big = (sizes[0], sizes[-1]) if sizes else (0, 0)
    cost_rows, worst_page = _cost_rows(r, small, big)
    rss_peak = max((x.peak_mb for x in r.rss if not x.floor), default=math.nan)
    floor_rss = next((x.peak_mb for x in r.rss if x.floor), math.nan)
    return Figures(floor_ms, floor_cpu, cold_rows, ratios, worst, over, warm_rows, worst_overhead, sizes, small, big,
                   cost_rows, worst_page, rss_peak, floor_rss)


def _cold_rows(r: Report, floor_ms: float, floor_cpu: float) -> tuple[list[list[str]], list[Ratio]]:
    cold_rows, ratios = [], []
    for name, c in r.cold.items():
        own, total = median(c.own), median(c.totals)
        cpu_ratio = median(c.cpu) / floor_cpu
        if name != FLOOR and c.firsts:
            ratios.append((name, own / floor_ms, total / floor_ms, cpu_ratio))
        cold_rows.append([c.label, fmt(median(c.imports)), fmt(median(c.firsts)) if name != FLOOR else "-",
                          fmt(median(c.waits)) if name != FLOOR else "-", fmt(own), f"{own / floor_ms:.2f}",
                          f"{total / floor_ms:.2f}", fmt(median(c.cpu), 0), f"{cpu_ratio:.2f}", str(len(c.imports)),
                          (f"{c.failures} failed; " if c.failures else "") + c.note])
    return cold_rows, ratios


def _warm_rows(r: Report) -> tuple[list[list[str]], dict[str, tuple[str, float]]]:
    warm_rows: list[list[str]] = []
    worst_overhead: dict[str, tuple[str, float]] = {}
    for wr in r.warm:
        over_p50 = median(wr.overhead)
        limit = TARGET_OVERHEAD_MS[wr.op.kind]
        if wr.op.function.startswith(("Stream", "CommandConsumer", "Authorizer")):
            target = "(not an API operation)"
        else:
            target = f"<= {limit} {verdict(over_p50 <= limit)}"
            if over_p50 > worst_overhead.get(wr.op.kind, ("", -1.0))[1]:
                worst_overhead[wr.op.kind] = (wr.op.name, over_p50)
        warm_rows.append([wr.op.name, wr.op.label, fmt(median(wr.totals), 2), fmt(percentile(wr.totals, 99), 2),
                          fmt(median(wr.dynamo), 2), fmt(over_p50, 2), fmt(percentile(wr.overhead, 99), 2),
                          fmt(median(wr.replayed), 2) if wr.replayed else "-", fmt(median(wr.prep), 2),
                          fmt(median([float(c) for c in wr.calls]), 0), str(len(wr.totals)),
                          str(wr.errors) if wr.errors else "", target])
    return warm_rows, worst_overhead


def _cost_rows(r: Report, small: int, big: int) -> tuple[list[list[str]], tuple[str, float]]:
    cost_rows, page_ratios = [], []
    for name, a in (r.cost.get(small) or {}).items():
        b = r.cost[big].get(name)
        ratio = (b.read / a.read) if b is not None and a.read else (1.0 if b is not None and not b.read else math.nan)
        if name.startswith("list_tags"):  # the lists whose size grows with the tenant's tags
            page_ratios.append((name, ratio))
        cost_rows.append([name, a.breakdown or "-", str(a.read), str(a.written), str(a.returned),
                          str(b.read) if b else "n/a", str(b.written) if b else "n/a", str(b.returned) if b else "n/a",
                          fmt(ratio, 2), "" if a.ok and (b is None or b.ok) else "error answer"])
    worst_page = max(page_ratios, key=lambda x: x[1]) if page_ratios else ("-", math.nan)
    return cost_rows, worst_page


def targets(r: Report, f: Figures) -> list[list[str]]:
    """The targets table's rows: target, goal, measured, result, detail."""
    worst, ratios, over, floor_ms, s = f.worst, f.ratios, f.over, f.floor_ms, r.size
    rows = [
        ["cold start / floor: import + first invocation, DynamoDB wait excluded (worst function)",
         f"<= {TARGET_COLD_RATIO}", f"{worst[1]:.2f} ({worst[0]})", verdict(not over),
         (f"{len(over)} of {len(ratios)} over; worst "
          f"+{(worst[1] - TARGET_COLD_RATIO) * floor_ms:.0f} ms" if over else f"all {len(ratios)} functions")
         + f"; with the wait: worst {max(x[2] for x in ratios):.2f}; CPU time: worst {max(x[3] for x in ratios):.2f}"],
    ]
    rows.extend(_overhead_targets(f.worst_overhead))
    rows.append([f"items read per tag list page, {f.big:,} / {f.small:,} tags (worst variant)",
                 f"<= {TARGET_PAGE_RATIO}", f"{f.worst_page[1]:.2f} ({f.worst_page[0]})",
                 verdict(f.worst_page[1] <= TARGET_PAGE_RATIO), ""])
    rss_peak, floor_rss = f.rss_peak, f.floor_rss
    rows.append([f"peak RSS serving {r.args.calls} requests (worst function)", f"<= {TARGET_RSS_MB:.0f} MB",
                 f"{rss_peak:.1f} MB", verdict(rss_peak <= TARGET_RSS_MB),
                 f"boto3 floor alone {floor_rss:.1f} MB" if rss_peak <= TARGET_RSS_MB
                 else f"+{rss_peak - TARGET_RSS_MB:.1f} MB (boto3 floor alone {floor_rss:.1f} MB)"])
    if s.error:
        rows.append(["layer + largest function, unzipped, without boto3", f"<= {TARGET_SIZE_MB:.0f} MB",
                     "not measured", "n/a", s.error[:120]])
    else:
        size_ok = s.largest_deploy <= TARGET_SIZE_MB * 1_000_000
        rows.append(["layer + largest function, unzipped, without boto3", f"<= {TARGET_SIZE_MB:.0f} MB",
                     f"{mb(s.largest_deploy)} MB", verdict(size_ok),
                     "" if size_ok else f"+{mb(s.largest_deploy - TARGET_SIZE_MB * 1_000_000)} MB"])
    return rows


def _overhead_targets(worst_overhead: dict[str, tuple[str, float]]) -> list[list[str]]:
    rows = []
    for kind in ("read", "write"):
        name, value = worst_overhead.get(kind, ("-", math.nan))
        limit = TARGET_OVERHEAD_MS[kind]
        rows.append([f"handler overhead p50, API {kind}s (worst operation)", f"<= {limit} ms",
                     f"{value:.2f} ms ({name})", verdict(value <= limit),
                     "" if value <= limit else f"+{value - limit:.2f} ms ({value / limit:.1f}x)"])
    return rows
