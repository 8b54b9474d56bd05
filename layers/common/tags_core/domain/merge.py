"""Merging one tag into another: every object carrying `source` carries `into` instead, `source` is deleted and
its name (with the aliases it had) becomes an alias of `into`.

Bounded: objects move 98 per transaction, and a call works for at most `budget_seconds`. A merge that needs
longer answers `"status": "in_progress"` with what it moved; calling again continues where it stopped (the
source is marked, so nothing new attaches to it meanwhile: attachments by its id or name resolve to `into`).
"""

from __future__ import annotations

import time
from typing import Any

from tags_core import outcomes
from tags_core.clock import now_iso
from tags_core.domain.identity import Principal
from tags_core.domain.models import KINDS
from tags_core.domain.tags import get_tag
from tags_core.errors import InvalidInput, NotFound, ServiceUnavailable
from tags_core.store.merges import MergeStore
from tags_core.store.table import TagSetChanged

CHUNK = 98
DEFAULT_BUDGET_SECONDS = 20.0


def merge_tag(principal: Principal, source_id: str, into_id: str, *, dry_run: bool,
              budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> dict[str, Any]:
    source = get_tag(principal, source_id, consistent=True)
    if into_id == source_id:
        raise InvalidInput("A tag cannot be merged into itself.", field="into")
    try:
        into = get_tag(principal, into_id, consistent=True)
    except NotFound as exc:  # the body's id: a bad request, not a missing route (a store fault stays a 503)
        raise InvalidInput("No tag with this id.", field="into", code="tag_not_found") from exc
    if into.get("merged_into"):
        raise InvalidInput("The target is itself being merged; merge into its target instead.", field="into")
    usage = {k: int(source["usage"].get(k, 0)) for k in KINDS}
    report: dict[str, Any] = {"id": source_id, "into": into_id, "alias": source["name"], "objects": usage,
                              "dry_run": dry_run}
    if dry_run:
        report["status"] = "dry_run"
        return report
    repo = MergeStore()
    repo.mark_merging(principal.tenant, source_id, into_id)
    moved: dict[str, int] = dict.fromkeys(KINDS, 0)
    finished = _move_all(principal, repo, source_id, into_id, moved, time.monotonic() + budget_seconds)
    outcomes.count(outcomes.OBJECTS_MOVED, sum(moved.values()))
    if not finished:
        report.update(status="in_progress", moved=moved)
        return report
    try:
        repo.finish_merge(principal.tenant, get_tag(principal, source_id, consistent=True),
                          get_tag(principal, into_id, consistent=True))
    except TagSetChanged:
        raise ServiceUnavailable("The tags changed during the merge; call merge again to finish it.") from None
    outcomes.count(outcomes.MERGES)
    report.update(status="merged", moved=moved)
    return report


def _move_all(principal: Principal, repo: MergeStore, source_id: str, into_id: str, moved: dict[str, int],
              deadline: float) -> bool:
    """Move the source's attachments, a chunk a transaction, counting them in `moved`; False when the deadline
    passed first (the merge goes on with the next call)."""
    while True:
        entries, _ = repo.query_reverse(principal.tenant, source_id, None, CHUNK, None)
        keys = [(e["kind"], e["object_id"]) for e in entries]
        sets = [s for s in (repo.get_tag_set(principal.tenant, k, o) for k, o in keys)
                if s and source_id in (s.get("tags") or {})]
        if sets:
            try:
                counts = repo.move_attachments(principal.tenant, source_id, into_id, sets, now_iso())
            except TagSetChanged:
                counts = None  # an object changed meanwhile: read again
            if counts:
                for kind, n in counts["removed"].items():
                    moved[kind] += n
        else:
            source = get_tag(principal, source_id, consistent=True)
            if not any(int(source["usage"].get(k, 0)) for k in KINDS):
                return True
            # Attachments not yet in the reverse index (it follows the stream): wait for it briefly.
            time.sleep(0.2)
        if time.monotonic() > deadline:
            return False
