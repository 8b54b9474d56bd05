"""`python -m tags_tools.bench` (`make bench`): run every phase, write docs/benchmarks.md, print the summary."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import tags_tools.bench
from tags_tools import template as tpl
from tags_tools.bench.cold import cold_phase, import_profile
from tags_tools.bench.common import API_TABLE, DOC_PATH, REGION, RSS_TABLE, log
from tags_tools.bench.cost import cost_phase
from tags_tools.bench.document import render
from tags_tools.bench.dynamodb import MotoProcess
from tags_tools.bench.finding import find_phase, section, write_section
from tags_tools.bench.lambda_env import function_environment, lambda_site
from tags_tools.bench.memory import rss_phase
from tags_tools.bench.operations import operations
from tags_tools.bench.report import Report
from tags_tools.bench.service import Service
from tags_tools.bench.size import size_phase, start_build
from tags_tools.bench.state import State
from tags_tools.bench.warm import warm_phase

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    description = (tags_tools.bench.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tags_tools.bench", description=description)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per function for cold starts (7)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per operation; RSS requests (300)")
    parser.add_argument("--tenant-sizes", default="1000,20000", help="tags in the tenant for the cost table")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="the Markdown file to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--only", choices=["find"], help="run one phase and rewrite only its section")
    args = parser.parse_args(argv)
    if args.only == "find":
        return _only_find(args)
    if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        print("bench: needs Linux (child and parent timestamps on one CLOCK_MONOTONIC)", file=sys.stderr)
        return 2
    report = run(args)
    document, summary = render(report)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        from tags_tools.soak import keep_section  # noqa: PLC0415

        args.output.write_text(keep_section(document, args.output))
    print(summary)
    return 0


def run(args: argparse.Namespace) -> Report:
    """Every phase, in the order that keeps them from disturbing each other (sam build only beside the cost one)."""
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    template = tpl.load_template()
    specs = tpl.functions(template)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    memory = int(globals_.get("MemorySize", 128))
    architectures = [str(a) for a in globals_.get("Architectures") or ["x86_64"]]
    sizes = sorted({int(x) for x in args.tenant_sizes.split(",") if x.strip()})

    _environment()
    moto = MotoProcess()
    log(f"moto server at {moto.url}; {len(specs)} functions in the template")
    try:
        with tempfile.TemporaryDirectory(prefix="tags-bench-") as tmp:
            workdir = Path(tmp)
            site = lambda_site(workdir)
            service = Service(specs, moto, memory)
            service.new_table(API_TABLE)
            state = State(service)
            state.seed_base("api")

            cold = cold_phase(specs, state, operations(state, "cold"), runs=args.runs, site=site, workdir=workdir)
            profiled, profile = _profile(specs, state, site, workdir)
            warm = warm_phase(service, calls=args.calls)
            service.new_table(RSS_TABLE)
            state = State(service)
            state.seed_base("rss")
            rss = rss_phase(specs, state, requests=args.calls, site=site, workdir=workdir)
            build = start_build()  # in the background from here on: nothing timed runs beside it
            cost = cost_phase(service, specs, sizes)
            finding = find_phase(service) if "FindObjectsFunction" in specs else []
            size = size_phase(specs, build)
    finally:
        moto.stop()
    return Report(started_at, time.monotonic() - started, args, memory, architectures, cold, profiled, profile,
                  warm, cost, rss, size, finding)


def _environment() -> None:
    logging.getLogger("botocore").setLevel(logging.WARNING)
    sys.modules.setdefault("awscrt", None)  # type: ignore[arg-type] # not in Lambda's runtime; botocore would use it
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION})


def _only_find(args: argparse.Namespace) -> int:
    """`--only find`: the finding phase alone; its section of the document is rewritten, the rest kept."""
    template = tpl.load_template()
    specs = tpl.functions(template)
    memory = int(((template.get("Globals") or {}).get("Function") or {}).get("MemorySize", 128))
    _environment()
    moto = MotoProcess()
    try:
        rows = find_phase(Service(specs, moto, memory))
    finally:
        moto.stop()
    text = section(rows)
    if not args.no_write:
        args.output.write_text(write_section(text, args.output.read_text() if args.output.is_file() else ""))
    print(text)
    return 0


def _profile(specs: dict[str, tpl.FunctionSpec], state: State, site: Path,
             workdir: Path) -> tuple[str, dict[str, list[tuple[str, float]]]]:
    """`-X importtime` of one function's cold start (GetTagFunction) and of the floor."""
    service = state.service
    profiled = "GetTagFunction" if "GetTagFunction" in specs else next(iter(specs))
    log(f"cold: -X importtime of {profiled} and of the floor")
    op = next(o for o in operations(state, "profile") if o.function == profiled)
    event_path = workdir / "profile-event.json"
    event_path.write_text(json.dumps(op.event(0)))
    spec = specs[profiled]
    env = function_environment(spec, table=API_TABLE, endpoint=service.endpoint, secret=service.secret,
                               memory=service.memory, site=site)
    return profiled, {"floor": import_profile(None, env, workdir, None),
                      profiled: import_profile(spec, env, workdir, event_path)}
