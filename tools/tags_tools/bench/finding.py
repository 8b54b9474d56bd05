"""Finding objects by several tags (GET /{kind}?all=&any=&none=): items read per page of selective queries while the
number of tagged objects grows (2,000 then 20,000), counted by the meter's botocore hooks on the real handler.

The tenant's objects are bulk-loaded into moto (EmbeddedDynamoDB.put_items) as the service would have written them:
tag sets, their reverse-index entries, and the tags with their exact usage counts. The selective tags are on the
same objects at every size; the common ones grow with the tenant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tags_tools.bench.common import log, table
from tags_tools.bench.service import Service, body_of
from tags_tools.bench.state import State

FIND_TABLE = "tags-bench-find"
SIZES = (2_000, 20_000)
RARE_EVERY = 33  # "find rare" on object 0, 33, 66, ... below 2,000: 61 objects at every size
SCARCE_EVERY = 47  # "find scarce", likewise: 43 objects
PAGES = 3
BEGIN = "<!-- bench:find:begin -->"
END = "<!-- bench:find:end -->"

QUERIES = (
    ("all=rare,common&none=other", {"all": "find rare,find common", "none": "find other"}),
    ("any=rare,scarce&none=half", {"any": "find rare,find scarce", "none": "find half"}),
    ("all=half,common&any=rare,scarce", {"all": "find half,find common", "any": "find rare,find scarce"}),
)


@dataclass
class FindRow:
    size: int
    query: str
    page: int
    found: int
    read: int
    calls: str


def _tags_of(i: int) -> list[str]:
    names = ["find common"]
    if i % 2 == 0:
        names.append("find half")
    if i % 7 == 0:
        names.append("find other")
    if i < SIZES[0] and i % RARE_EVERY == 0:
        names.append("find rare")
    if i < SIZES[0] and i % SCARCE_EVERY == 0:
        names.append("find scarce")
    return names


def _load(state: State, tags: dict[str, dict[str, Any]], start: int, stop: int, usage: dict[str, int]) -> None:
    """Objects start..stop-1 (conversations), their reverse entries, and the tags' usage counts so far."""
    from tags_core.clock import now_iso  # noqa: PLC0415
    from tags_core.store import keys  # noqa: PLC0415

    now = now_iso()
    items: list[dict[str, Any]] = []
    for i in range(start, stop):
        object_id = f"obj-{i:06d}"
        ids = {tags[n]["id"]: now for n in _tags_of(i)}
        for name in _tags_of(i):
            usage[name] = usage.get(name, 0) + 1
        items.append(keys.tag_set_item(state.tenant, "conversation", object_id, ids, 1, now, "bench", "api", {}))
        items.extend(keys.reverse_item(state.tenant, tag_id, "conversation", object_id, now) for tag_id in ids)
        if len(items) >= 20_000:
            state.service.seed(state.service.table, items)
            items = []
    for name, tag in tags.items():
        tag["usage"] = {"conversation": usage.get(name, 0), "customer": 0, "comment": 0}
        items.append(keys.tag_item(state.tenant, tag))
    state.service.seed(state.service.table, items)


def find_phase(service: Service, sizes: tuple[int, ...] = SIZES) -> list[FindRow]:
    service.new_table(FIND_TABLE)
    state = State(service)
    state.seed_base("find")
    names = ["find common", "find half", "find other", "find rare", "find scarce"]
    tags = {t["name"]: t for t in state.seed_tags(names)}
    usage: dict[str, int] = {}
    rows: list[FindRow] = []
    loaded = 0
    for size in sizes:
        started = time.monotonic()
        _load(state, tags, loaded, size, usage)
        loaded = size
        log(f"find: {size} tagged objects loaded in {time.monotonic() - started:.1f}s")
        for label, query in QUERIES:
            cursor = ""
            for page in range(1, PAGES + 1):
                event = state.event("GET", "/{kind}", {"kind": "conversations"},
                                    query={**query, "limit": "20", **({"cursor": cursor} if cursor else {})})
                service.meter.reset()
                result = service.invoke("FindObjectsFunction", event)
                body = body_of(result) or {}
                if result.get("statusCode") != 200:
                    raise RuntimeError(f"find: {label} answered {result.get('statusCode')}: {body}")
                meter = service.meter
                rows.append(FindRow(size, label, page, len(body["data"]), meter.read, meter.breakdown()))
                cursor = (body.get("meta") or {}).get("next_cursor") or ""
                if not cursor:
                    break
    return rows


def flat(rows: list[FindRow]) -> bool:
    """Whether every page reads the same at every size (the selective tags do not grow, the tenant does)."""
    by_page: dict[tuple[str, int], set[int]] = {}
    for row in rows:
        by_page.setdefault((row.query, row.page), set()).add(row.read)
    return all(len(reads) == 1 for reads in by_page.values())


def section(rows: list[FindRow]) -> str:
    sizes = sorted({r.size for r in rows})
    headers = ["query (limit 20)", "page", *[f"items read at {s:,}" for s in sizes],
               *[f"found at {s:,}" for s in sizes], f"calls at {sizes[-1]:,}"]
    cells: dict[tuple[str, int], dict[int, FindRow]] = {}
    for row in rows:
        cells.setdefault((row.query, row.page), {})[row.size] = row
    body = []
    for (query, page), by_size in cells.items():
        last = by_size.get(sizes[-1])
        body.append([f"`{query}`", str(page), *[str(by_size[s].read) if s in by_size else "-" for s in sizes],
                     *[str(by_size[s].found) if s in by_size else "-" for s in sizes], last.calls if last else "-"])
    verdict = "do not grow" if flat(rows) else "**grow**"
    return "\n".join([
        BEGIN,
        "## Finding objects by several tags\n",
        f"`GET /conversations?...` (FindObjectsFunction, in process against moto) on a tenant with {sizes[0]:,} and "
        f"then {sizes[-1]:,} tagged conversations: `find common` on every object, `find half` on every other one, "
        f"`find other` on every 7th; `find rare` ({len(range(0, SIZES[0], RARE_EVERY))} objects) and `find scarce` "
        f"({len(range(0, SIZES[0], SCARCE_EVERY))}) on the same objects at both sizes. Items read per page (DynamoDB "
        "items: reverse-index entries, tag sets, name locks and tags; the meter's botocore hooks) for the first "
        f"{PAGES} pages of each query, following `next_cursor`. Reads per page **{verdict}** with the tenant "
        "(the planner starts from the rare tags by their usage counts; the cost model is in "
        "[data-model.md](data-model.md#finding-objects-by-several-tags)). Written by `make bench`, or alone by "
        "`python -m tags_tools.bench --only find`.\n",
        table(headers, body, "lr" + "r" * (2 * len(sizes)) + "l"),
        END,
    ]) + "\n"


def write_section(text: str, document: str) -> str:
    """`document` with its find section replaced by `text` (or `text` added before the soak section, or at the end)."""
    if BEGIN in document and END in document:
        return document[: document.index(BEGIN)] + text.rstrip("\n") + document[document.index(END) + len(END):]
    from tags_tools.soak import BEGIN as SOAK_BEGIN  # noqa: PLC0415

    if SOAK_BEGIN in document:
        at = document.index(SOAK_BEGIN)
        return document[:at] + text + "\n" + document[at:]
    return document.rstrip("\n") + "\n\n" + text
