"""`make soak`: `tags-local` as `make run` starts it, driven for thousands of mixed requests, watched from outside.

Several clients at once send writes and reads on every route (object tag sets: replace, append, remove, read,
history; tags: create, batch, read, list, search, update, replace, archive, restore, merge, delete; groups: create,
read, list, update, delete; reverse lookups; finding objects by several tags; bulk jobs through the command queue,
each checked `done` at the end), each client on objects of its own, spread so that no object meets the per-object
rate limit. Measured:
the resident memory of the server's whole process tree over time, p50/p99 per route over the first and the last
1,000 requests, whether the table's stream was processed to its end (`GET /_local/status`), and the CPU the server
uses idle for a minute afterwards. Twice: with the embedded DynamoDB, and with `tags-dynamodb` as an external
endpoint (`--dynamodb-endpoint`). Prints a summary, writes its section of docs/benchmarks.md, and exits 1 when a
target is missed. Only loopback addresses; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- soak: begin (make soak writes this section) -->", "<!-- soak: end -->"
KINDS = ("conversations", "customers", "comments")
WINDOW = 1000  # requests in the first and last windows compared
# Requests of the run between two bulk jobs, the first at half of it: every window of 1,000 requests sends two. A
# job's 101 object changes run on the command consumer for a few seconds: as many jobs in the first window as in
# the last, or the one with more (they came at per-client random draws) is slower for it.
BULK_EVERY = 500
# Requests of the same mix sent before the clock starts, so that the first window meets the server as the last one
# does: with the stream processor and the command consumer at their steady pace. Started from an idle server (the
# setup's stream drained), the first seconds were the run's cheapest; started without draining, the setup's
# backlog made them the dearest. Neither is a fair baseline for "as fast at the end as at the start".
WARM_UP = 500
BULK_OBJECTS = 101  # more than 100: a bulk change becomes a job on the command queue
TARGETS = {"rss_end_mb": 300.0, "rss_growth_last_half_mb": 50.0, "write_p50_ratio": 1.2, "idle_cpu_percent": 2.0}


# --- the server's processes -----------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            todo += _children(current)
    return tree


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def rss_mb(pids: list[int]) -> tuple[float, float]:
    """(the server processes themselves: `tags-local`, where the embedded DynamoDB lives, and `tags-dynamodb`;
    the whole tree: those plus the function worker processes), in MB."""
    own = sum(_rss_kb(pid) for pid in pids)
    tree = sum(_rss_kb(member) for pid in pids for member in process_tree(pid))
    return own / 1024, tree / 1024


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        for tree_pid in process_tree(pid):
            try:
                fields = Path(f"/proc/{tree_pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class Server:
    """`tags-local` (and `tags-dynamodb` for the external run) in processes of their own."""

    def __init__(self, external: bool, log_dir: Path) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        args = [str(Path(sys.executable).with_name("tags-local")), "--port", "0"]
        if external:
            dynamodb = self._spawn([str(Path(sys.executable).with_name("tags-dynamodb")), "--port", "0"],
                                   log_dir / "dynamodb.log")
            args += ["--dynamodb-endpoint", self._line(dynamodb, "DynamoDB: ")]
        api = self._spawn(args, log_dir / "tags-local.log")
        self.url = self._line(api, "API: ")
        self.key = self._line(api, "API key: ")

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)  # noqa: S603
        self.processes.append(process)
        return process

    @staticmethod
    def _line(process: subprocess.Popen[str], prefix: str) -> str:
        assert process.stdout is not None
        for _ in range(20):
            line = process.stdout.readline()
            if line.startswith(prefix):
                return line[len(prefix):].strip()
            if not line:
                break
        raise RuntimeError(f"no '{prefix}' line from {process.args!r}")

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the clients ------------------------------------------------------------------------------------------------

@dataclass
class Sample:
    index: int
    route: str
    status: int
    ms: float
    write: bool


@dataclass
class Run:
    label: str
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[int, float, float, float]] = field(default_factory=list)  # (done, seconds, MB, tree MB)
    seconds: float = 0.0
    stream: dict[str, Any] = field(default_factory=dict)
    catch_up_seconds: float | None = None
    idle_cpu_percent: float = 0.0
    failures: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)  # bulk jobs accepted (202), checked done at the end
    bulk_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bulk_due(self) -> bool:
        """True once for each BULK_EVERY requests of the run (at BULK_EVERY / 2, then every BULK_EVERY)."""
        with self.lock:
            if len(self.samples) < BULK_EVERY // 2 + self.bulk_sent * BULK_EVERY:
                return False
            self.bulk_sent += 1
            return True


class Client:
    """One API consumer: its own objects, the shared tags; records every answer in the run."""

    def __init__(self, server: Server, run: Run, counter: Callable[[], int], number: int, objects: int) -> None:
        self.server, self.run, self.counter = server, run, counter
        self.random = random.Random(number)  # noqa: S311 - a repeatable mix, not a secret
        self.objects = [(KINDS[i % 3], f"soak-{number}-{i}") for i in range(objects)]
        self.bulk_objects = [f"soak-{number}-bulk-{i}" for i in range(BULK_OBJECTS)]
        self.turn = 0
        self.deck: list[Action] = []
        self.tags: list[dict[str, Any]] = []
        self.groups: list[str] = []

    def call(self, method: str, path: str, route: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server.url + path, data=data, method=method, headers={  # noqa: S310
            "Authorization": f"Bearer {self.server.key}", "Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        elapsed = (time.perf_counter() - started) * 1000
        index = self.counter()
        self.run.samples.append(Sample(index, f"{method} {route}", status, elapsed, method != "GET"))
        if status >= 400:
            self.run.failures.append(f"{method} {path} -> {status} {raw[:200]!r}")
        return status, json.loads(raw) if raw else None

    def next_object(self) -> tuple[str, str]:
        self.turn += 1
        return self.objects[self.turn % len(self.objects)]

    def step(self, shared_tags: list[dict[str, Any]]) -> None:
        """The next step of the client's deck: every 100 steps hold each action its exact share (MIX), in a shuffled
        order, so every window of the run meets the same mix (random draws made one window's mix, and so its write
        p50, differ from another's by chance). A bulk job when the run's next one is due (`Run.bulk_due`)."""
        kind, object_id = self.next_object()
        if self.run.bulk_due():
            Client.bulk(self, kind, object_id, self.random.choice(shared_tags), shared_tags)
            return
        if not self.deck:
            self.deck = [action for share, action in MIX for _ in range(share)]
            self.random.shuffle(self.deck)
        self.deck.pop()(self, kind, object_id, self.random.choice(shared_tags), shared_tags)

    def replace_set(self, kind: str, object_id: str, _one: dict[str, Any], shared: list[dict[str, Any]]) -> None:
        names = [tag["name"] for tag in self.random.sample(shared, 2)]
        self.call("PUT", f"/{kind}/{object_id}/tags", "/{kind}/{object_id}/tags", {"tags": names})

    def append(self, kind: str, object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("POST", f"/{kind}/{object_id}/tags", "/{kind}/{object_id}/tags", {"tag_ids": [one["id"]]})

    def remove(self, kind: str, object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("DELETE", f"/{kind}/{object_id}/tags/{one['id']}", "/{kind}/{object_id}/tags/{tag_id}")

    def read_set(self, kind: str, object_id: str, _one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("GET", f"/{kind}/{object_id}/tags", "/{kind}/{object_id}/tags")

    def history(self, kind: str, object_id: str, _one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("GET", f"/{kind}/{object_id}/tags/history?limit=20", "/{kind}/{object_id}/tags/history")

    def find(self, kind: str, _object_id: str, one: dict[str, Any], shared: list[dict[str, Any]]) -> None:
        other = self.random.choice(shared)
        query = self.random.choice([f"all={one['id']}", f"any={one['id']},{other['id']}",
                                    f"all={one['id']}&none={other['id']}"])
        self.call("GET", f"/{kind}?{query}&limit=20", "/{kind}")

    def read_tag(self, kind: str, _object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("GET", f"/tags/{one['id']}", "/tags/{tag_id}")

    def list_tags(self, _kind: str, _object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        search = "?q=" + urllib.parse.quote(one["name"][:6])
        self.call("GET", "/tags" + self.random.choice(["", "?limit=50", search, "?sort=-created_at"]), "/tags")

    def reverse(self, kind: str, _object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("GET", f"/tags/{one['id']}/objects?kind={kind}", "/tags/{tag_id}/objects")

    def touch_tag(self, _kind: str, _object_id: str, one: dict[str, Any], _shared: list[dict[str, Any]]) -> None:
        self.call("PATCH", f"/tags/{one['id']}", "/tags/{tag_id}",
                  {"description": f"touched {self.random.randrange(10**6)}"})

    def bulk(self, _kind: str, _object_id: str, one: dict[str, Any], shared: list[dict[str, Any]]) -> None:
        """A job (more than 100 objects: through the command queue) on this client's own bulk objects."""
        other = self.random.choice([tag for tag in shared if tag["id"] != one["id"]])
        status, body = self.call("POST", "/conversations/tags/bulk", "/{kind}/tags/bulk", {
            "objects": self.bulk_objects, "add": [one["name"]], "remove": [other["name"]]})
        if status == 202:
            self.run.jobs.append(body["data"]["id"])

    def tag_life_cycle(self, kind: str, object_id: str, into: dict[str, Any]) -> None:
        """A tag of this client's own: created (alone or in a batch), attached, then merged away or deleted."""
        name = f"tmp {self.random.randrange(10**9)}"
        if self.random.random() < 0.5:
            status, body = self.call("POST", "/tags", "/tags", {"name": name, "color": "#336699"})
            tag_id = body["data"]["id"] if status == 201 else None
        else:
            status, body = self.call("POST", "/tags/batch", "/tags/batch", {"tags": [name, into["name"]]})
            tag_id = body["data"]["inserted"][0]["id"] if status == 200 and body["data"]["inserted"] else None
        if tag_id is None:
            return
        self.call("POST", f"/{kind}/{object_id}/tags", "/{kind}/{object_id}/tags", {"tag_ids": [tag_id]})
        if self.random.random() < 0.5:
            self.call("PUT", f"/tags/{tag_id}", "/tags/{tag_id}", {"name": f"{name} v2", "color": "#112233"})
        if self.random.random() < 0.3:
            self.call("POST", f"/tags/{tag_id}/archive", "/tags/{tag_id}/archive")
            self.call("POST", f"/tags/{tag_id}/restore", "/tags/{tag_id}/restore")
        if self.random.random() < 0.3:
            self.call("POST", f"/tags/{tag_id}/merge", "/tags/{tag_id}/merge", {"into": into["id"]})
        else:
            self.call("DELETE", f"/tags/{tag_id}", "/tags/{tag_id}")

    def group_life_cycle(self) -> None:
        name = f"group {self.random.randrange(10**9)}"
        status, body = self.call("POST", "/tag-groups", "/tag-groups", {"name": name, "max_per_object": 2})
        if status != 201:
            return
        group_id = body["data"]["id"]
        self.call("GET", f"/tag-groups/{group_id}", "/tag-groups/{group_id}")
        self.call("PATCH", f"/tag-groups/{group_id}", "/tag-groups/{group_id}", {"description": "soak"})
        self.call("GET", "/tag-groups?limit=20", "/tag-groups")
        self.call("DELETE", f"/tag-groups/{group_id}", "/tag-groups/{group_id}")


Action = Callable[[Client, str, str, dict[str, Any], list[dict[str, Any]]], None]
# (steps out of every 100, what the step does): writes and reads on every route; bulk jobs apart (Run.bulk_due).
MIX: list[tuple[int, Action]] = [
    (20, Client.replace_set), (13, Client.append), (9, Client.remove), (8, Client.read_set),
    (3, Client.history), (3, Client.find), (5, Client.read_tag), (6, Client.list_tags),
    (5, Client.reverse), (5, Client.touch_tag), (10, lambda c, k, o, one, _s: c.tag_life_cycle(k, o, one)),
    (13, lambda c, *_: c.group_life_cycle()),
]


# --- one run ----------------------------------------------------------------------------------------------------

def soak(label: str, *, external: bool, requests: int, clients: int, objects: int, idle: float) -> Run:
    run = Run(label)
    with tempfile.TemporaryDirectory() as logs:
        server = Server(external, Path(logs))
        try:
            drive(server, run, requests=requests, clients=clients, objects=objects)
            wait_for_jobs(server, run)
            wait_for_stream(server, run)
            before, started = cpu_seconds(server.pids), time.monotonic()
            time.sleep(idle)
            run.idle_cpu_percent = 100 * (cpu_seconds(server.pids) - before) / (time.monotonic() - started)
            run.rss.append((len(run.samples), run.seconds + idle, *rss_mb(server.pids)))
        finally:
            server.stop()
    return run


def drive(server: Server, run: Run, *, requests: int, clients: int, objects: int) -> None:
    lock = threading.Lock()
    done = [0]

    def counter() -> int:
        with lock:
            done[0] += 1
            return done[0]

    setup = Client(server, Run("setup"), counter=lambda: 0, number=-1, objects=1)
    shared = [setup.call("POST", "/tags/batch", "/tags/batch", {"tags": [f"soak tag {i}" for i in range(20)]})]
    tags: list[dict[str, Any]] = shared[0][1]["data"]["inserted"] + shared[0][1]["data"]["existing"]
    warm_up = Run("warm-up")
    workers = [Client(server, warm_up, lambda: 0, number, objects) for number in range(clients)]
    give_objects_their_first_tags(server, tags, clients=clients, objects=objects)
    wait_for_stream(server, Run("setup"))  # the warm-up starts with the setup's stream records processed
    clock: list[float] = []  # when the first client left the warm-up
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(2.0):
            if clock:
                run.rss.append((done[0], time.monotonic() - clock[0], *rss_mb(server.pids)))

    def work(client: Client) -> None:
        while done[0] < requests and not stop.is_set():
            if client.run is warm_up and len(warm_up.samples) >= WARM_UP:
                with lock:
                    if not clock:
                        clock.append(time.monotonic())
                client.run, client.counter = run, counter  # no pause: the measured requests follow at once
            try:
                client.step(tags)
            except Exception as error:  # a dropped connection or a garbled answer is a failed request too
                client.run.failures.append(f"{type(error).__name__}: {error}")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=work, args=(client,)) for client in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3600)
    stop.set()
    run.seconds = time.monotonic() - (clock[0] if clock else time.monotonic())
    run.rss.append((done[0], run.seconds, *rss_mb(server.pids)))
    run.failures[:0] = [f"(warm-up) {failure}" for failure in warm_up.failures]  # a failure counts wherever it was
    run.jobs[:0] = warm_up.jobs  # checked done at the end like the others


def give_objects_their_first_tags(server: Server, tags: list[dict[str, Any]], *, clients: int, objects: int) -> None:
    """Before the clock starts (not measured): every object gets three tags, so that the first 1,000 requests meet
    objects of the size they keep for the rest of the run; empty objects would make the first window cheaper."""
    def prepare(number: int) -> None:
        client = Client(server, Run("setup"), counter=lambda: 0, number=number, objects=objects)
        for kind, object_id in client.objects:
            names = [tag["name"] for tag in client.random.sample(tags, 3)]
            client.call("PUT", f"/{kind}/{object_id}/tags", "/{kind}/{object_id}/tags", {"tags": names})

    threads = [threading.Thread(target=prepare, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)


def wait_for_jobs(server: Server, run: Run, limit: float = 120.0) -> None:
    """Every bulk job of the run ends `done` with no object failed (read outside the measured samples)."""
    reader = Client(server, Run("jobs"), counter=lambda: 0, number=-2, objects=1)
    pending, deadline = list(run.jobs), time.monotonic() + limit
    while pending and time.monotonic() < deadline:
        job_id = pending[0]
        _, body = reader.call("GET", f"/bulk-jobs/{job_id}", "/bulk-jobs/{job_id}")
        job = body["data"]
        if job["status"] != "done":
            time.sleep(0.25)
            continue
        pending.pop(0)
        if job["progress"]["failed"]:
            run.failures.append(f"bulk job {job_id}: {job['progress']['failed']} objects failed")
    run.failures.extend(f"bulk job {job_id} not done after {limit:.0f} s" for job_id in pending)


def wait_for_stream(server: Server, run: Run, limit: float = 120.0) -> None:
    """Until every consumer has read the stream to its end with nothing pending (polled at most `limit` s)."""
    ended, started = time.time(), time.monotonic()
    while time.monotonic() - started < limit:
        with urllib.request.urlopen(server.url + "/_local/status", timeout=10) as response:  # noqa: S310
            run.stream = json.loads(response.read())
        consumers = run.stream.get("stream") or []
        if consumers and all(c["caught_up"] and (c["last_poll"] or 0) > ended for c in consumers):
            run.catch_up_seconds = time.monotonic() - started
            return
        time.sleep(0.25)


# --- the report -------------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def windows(run: Run) -> tuple[list[Sample], list[Sample]]:
    ordered = sorted(run.samples, key=lambda s: s.index)
    return ordered[:WINDOW], ordered[-WINDOW:]


def rss_at(run: Run, share: float, column: int = 2) -> float:
    """RSS sampled nearest to `share` of the requests done (column 2: the server processes, 3: the tree)."""
    target = share * len(run.samples)
    return min(run.rss, key=lambda point: abs(point[0] - target))[column]


def figures(run: Run) -> dict[str, float]:
    first, last = windows(run)
    write_first = statistics.median(s.ms for s in first if s.write)
    write_last = statistics.median(s.ms for s in last if s.write)
    during = [point for point in run.rss if point[0] <= len(run.samples)]
    end_of_run = max(during, key=lambda point: point[1])
    return {"requests": len(run.samples), "seconds": run.seconds, "failures": len(run.failures),
            "rss_start_mb": run.rss[0][2], "rss_end_mb": end_of_run[2], "rss_after_idle_mb": run.rss[-1][2],
            "rss_growth_last_half_mb": end_of_run[2] - rss_at(run, 0.5),
            "tree_start_mb": run.rss[0][3], "tree_end_mb": end_of_run[3],
            "tree_growth_last_half_mb": end_of_run[3] - rss_at(run, 0.5, 3),
            "write_p50_first_ms": write_first, "write_p50_last_ms": write_last,
            "write_p50_ratio": write_last / write_first, "idle_cpu_percent": run.idle_cpu_percent,
            "catch_up_seconds": run.catch_up_seconds if run.catch_up_seconds is not None else float("nan"),
            "stream_pending": sum(c["pending"] for c in run.stream.get("stream", [])),
            "stream_lost": sum(c["lost"] for c in run.stream.get("stream", [])),
            "stream_processed": sum(c["processed"] for c in run.stream.get("stream", []))}


def verdicts(run: Run) -> list[tuple[str, str, str, bool]]:
    f = figures(run)
    caught_up = run.catch_up_seconds is not None and not f["stream_pending"] and not f["stream_lost"]
    return [
        ("RSS at the end (server processes, DynamoDB in them)", f"<= {TARGETS['rss_end_mb']:.0f} MB",
         f"{f['rss_end_mb']:.0f} MB (from {f['rss_start_mb']:.0f})", f["rss_end_mb"] <= TARGETS["rss_end_mb"]),
        ("RSS growth over the last half (server processes)", f"< {TARGETS['rss_growth_last_half_mb']:.0f} MB",
         f"{f['rss_growth_last_half_mb']:+.1f} MB", f["rss_growth_last_half_mb"] < TARGETS["rss_growth_last_half_mb"]),
        ("RSS growth over the last half (with the function workers)", f"< {TARGETS['rss_growth_last_half_mb']:.0f} MB",
         f"{f['tree_growth_last_half_mb']:+.1f} MB (whole tree {f['tree_start_mb']:.0f} -> {f['tree_end_mb']:.0f} MB)",
         f["tree_growth_last_half_mb"] < TARGETS["rss_growth_last_half_mb"]),
        ("write p50, last / first 1,000", f"<= {TARGETS['write_p50_ratio']}",
         f"{f['write_p50_ratio']:.2f} ({f['write_p50_first_ms']:.1f} -> {f['write_p50_last_ms']:.1f} ms)",
         f["write_p50_ratio"] <= TARGETS["write_p50_ratio"]),
        ("failed requests", "0", f"{f['failures']:.0f}", not f["failures"]),
        ("stream lag at the end", "0", f"pending {f['stream_pending']:.0f}, lost {f['stream_lost']:.0f}, "
         f"caught up in {f['catch_up_seconds']:.1f} s", caught_up),
        ("idle CPU, a minute after", f"< {TARGETS['idle_cpu_percent']:.0f} % of a core",
         f"{f['idle_cpu_percent']:.2f} %", f["idle_cpu_percent"] < TARGETS["idle_cpu_percent"]),
    ]


def route_rows(run: Run) -> list[list[str]]:
    first, last = windows(run)
    rows = []
    for route in sorted({s.route for s in run.samples}, key=lambda r: (r.split()[1], r)):
        a = [s.ms for s in first if s.route == route]
        b = [s.ms for s in last if s.route == route]
        cells = [f"{percentile(v, q):.1f}" if v else "-" for v in (a, b) for q in (0.5, 0.99)]
        ratio = f"{statistics.median(b) / statistics.median(a):.2f}" if a and b else "-"
        rows.append([f"`{route}`", str(len(a)), cells[0], cells[1], str(len(b)), cells[2], cells[3], ratio])
    return rows


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def render(runs: list[Run], command: str) -> str:
    out = [BEGIN, "## Soak: `make run` under sustained use", "",
           f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (tools/tags_tools/soak.py). "
           "`tags-local` as `make run` starts it (5 worker processes, stream consumers on), driven by several "
           "clients at once with mixed writes and reads on every route (each client's steps from a shuffled deck "
           "of exact shares; a bulk job every 500 requests), after every object was given three tags and "
           f"{WARM_UP} requests of the same mix (neither timed nor counted). RSS of the server processes: "
           "`tags-local` itself (where the embedded DynamoDB lives), plus "
           "`tags-dynamodb` in the external run; the whole tree adds the function worker processes. Times are "
           "milliseconds as the client sees them.", ""]
    for run in runs:
        f = figures(run)
        out += [f"### {run.label}", "",
                f"{f['requests']:.0f} requests in {f['seconds']:.0f} s; stream records processed: "
                f"{f['stream_processed']:.0f}.", "",
                table(["target", "goal", "measured", "result"],
                      [[name, goal, got, "met" if ok else "**not met**"] for name, goal, got, ok in verdicts(run)]),
                "", "RSS over the run, server processes / whole tree with the function workers (MB): " + ", ".join(
                    f"{done} req {mb:.0f} / {tree:.0f}"
                    for done, _, mb, tree in run.rss[:: max(1, len(run.rss) // 12)] + run.rss[-1:]),
                "", table(["route", "first n", "p50", "p99", "last n", "p50", "p99", "p50 last/first"],
                          route_rows(run)), ""]
        if run.failures:
            out += ["Failed requests (first 5): " + "; ".join(run.failures[:5]), ""]
    return "\n".join([*out, END])


def keep_section(document: str, path: Path = DOC_PATH) -> str:
    """`document` (what `make bench` writes to `path`) with the soak section `path` holds now, at its end."""
    text = path.read_text() if path.is_file() else ""
    if BEGIN not in text or END not in text:
        return document
    return document.rstrip("\n") + "\n\n" + text[text.index(BEGIN): text.index(END) + len(END)] + "\n"


def write_section(section: str, path: Path = DOC_PATH) -> None:
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run (default 10,000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--objects", type=int, default=120, help="objects per client (default 120)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measured after (default 60)")
    parser.add_argument("--only", choices=["embedded", "external"], help="one run instead of both")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="the Markdown file whose section to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    runs = []
    for label, external in (("Embedded DynamoDB (`make run`)", False),
                            ("External DynamoDB (`tags-dynamodb` + `tags-local --dynamodb-endpoint`)", True)):
        if args.only and args.only != ("external" if external else "embedded"):
            continue
        run = soak(label, external=external, requests=args.requests, clients=args.clients, objects=args.objects,
                   idle=args.idle)
        runs.append(run)
        print(f"\n{label}")
        for name, goal, got, ok in verdicts(run):
            print(f"  {'ok ' if ok else 'MISS'} {name}: {got} (goal {goal})")
        for failure in run.failures[:5]:
            print(f"  failed: {failure}")
    command = "make soak" if argv is None and len(sys.argv) == 1 else "python -m tags_tools.soak " + " ".join(
        sys.argv[1:] if argv is None else argv)
    section = render(runs, command)
    if not args.no_write:
        write_section(section, args.output)
        print(f"\nwrote {args.output}")
    return 0 if all(ok for run in runs for *_, ok in verdicts(run)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
