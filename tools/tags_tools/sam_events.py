"""The data the sample events in events/ refer to, and a command that puts it in a table.

`sam local invoke <Function> -e events/<file>.json --env-vars events/env.json` runs a function against the table
env.json names; the events use the fixed ids below, so seed them there first (tags-local already created the
`demo` tenant; this adds the rest and is safe to run again):

    python -m tags_tools.sam_events --endpoint-url http://127.0.0.1:8000 [--table tags-local]

Destructive events each have their own target (delete_tag, merge_tag, delete_group), so every file works once
after a seed, in any order. tests/infra/test_sam_event_files.py seeds a fresh table the same way for each file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

__all__ = ["API_KEY", "DEMO_OBJECT", "GROUP_ID", "KEY_ID", "TAG_ID", "TENANT", "main", "seed"]

TENANT = "demo"
KEY_ID = "01jdkey0000000000000000001"
# A write key of the demo tenant, for events/authorizer.json only. Public: never seed it into a real table.
API_KEY = f"tk_{KEY_ID}_sam-local-invoke-demo-key-not-a-secret-0000"
TAG_ID = "01JDTAG0000000000000000001"  # read, updated, replaced, listed, attached
DELETE_TAG_ID = "01JDTAG0000000000000000002"  # deleted by events/delete_tag.json
MERGE_SOURCE_ID = "01JDTAG0000000000000000003"  # merged by events/merge_tag.json ...
MERGE_INTO_ID = "01JDTAG0000000000000000004"  # ... into this one
GROUP_ID = "01JDGRP0000000000000000001"  # read and updated
DELETE_GROUP_ID = "01JDGRP0000000000000000002"  # deleted by events/delete_group.json
DEMO_OBJECT = ("conversation", "demo-conversation-1")  # carries TAG_ID
BULK_JOB_ID = "01JDJ8B0000000000000000001"  # read by events/get_bulk_job.json: a finished job, one object failed

TAGS = {TAG_ID: "Demo tag", DELETE_TAG_ID: "Demo tag to delete", MERGE_SOURCE_ID: "Demo merge source",
        MERGE_INTO_ID: "Demo merge target"}
GROUPS = {GROUP_ID: "Demo group", DELETE_GROUP_ID: "Demo group to delete"}


def seed() -> None:
    """Put the fixtures in the table tags_core points at (TABLE_NAME, DYNAMODB_ENDPOINT_URL). Idempotent."""
    from tags_core.clock import now_iso  # noqa: PLC0415 - tags_core reads the environment on first use
    from tags_core.domain import accounts  # noqa: PLC0415
    from tags_core.domain.identity import hash_key  # noqa: PLC0415
    from tags_core.domain.models import KINDS  # noqa: PLC0415
    from tags_core.errors import Conflict, NotFound  # noqa: PLC0415
    from tags_core.names import slugify  # noqa: PLC0415
    from tags_core.store.repository import Repository  # noqa: PLC0415
    from tags_core.store.table import TagSetChanged, TransactionFailed  # noqa: PLC0415
    from tags_core.store.tag_sets import Stamp  # noqa: PLC0415

    repo = Repository()
    with contextlib.suppress(Conflict):
        accounts.create_tenant("Demo", tenant_id=TENANT)
    record = {"key_id": KEY_ID, "role": "write", "label": "events/ samples", "created_at": now_iso(),
              "revoked_at": None}
    with contextlib.suppress(TransactionFailed):  # already there
        repo.put_api_key(TENANT, hash_key(API_KEY), record)
    now = now_iso()
    for tag_id, name in TAGS.items():
        if repo.get_tag(TENANT, tag_id, consistent=True) is None:
            tag: dict[str, Any] = {
                "id": tag_id, "name": name, "name_slug": slugify(name), "type": "tag", "group_id": None,
                "applies_to": dict.fromkeys(KINDS, True), "color": None, "description": None,
                "usage": dict.fromkeys(KINDS, 0), "version": 1, "created_at": now, "updated_at": now,
                "updated_by": KEY_ID}
            with contextlib.suppress(Conflict):
                repo.create_tag(TENANT, tag)
    for group_id, name in GROUPS.items():
        if repo.get_group(TENANT, group_id, consistent=True) is None:
            group = {"id": group_id, "name": name, "name_slug": slugify(name), "description": None, "tag_count": 0,
                     "version": 1, "created_at": now, "updated_at": now, "updated_by": KEY_ID}
            with contextlib.suppress(Conflict):
                repo.create_group(TENANT, group)
    kind, object_id = DEMO_OBJECT
    if not repo.get_tag_set(TENANT, kind, object_id):
        with contextlib.suppress(TagSetChanged, NotFound):
            repo.write_tag_set(TENANT, kind, object_id, old_version=0, tags={TAG_ID: now}, added=[TAG_ID],
                               removed=[], created=[], stamp=Stamp(KEY_ID), rate_limit=None)
    # The reverse index entry the stream processor would write (where none runs, e.g. a bare DynamoDB Local).
    repo.write_reverse_entries(TENANT, kind, object_id, added={TAG_ID: now}, removed=[])
    _seed_bulk_job(now)


def _seed_bulk_job(now: str) -> None:
    """A finished bulk job of 2 objects, one of them failed, as the command consumer leaves one."""
    import time  # noqa: PLC0415

    from tags_core.store.bulk_jobs import BulkJobStore, bulk_budget  # noqa: PLC0415
    from tags_core.store.table import TransactionFailed  # noqa: PLC0415

    store = BulkJobStore()
    if store.get_job(TENANT, BULK_JOB_ID) is not None:
        return
    expires = int(time.time()) + 7 * 24 * 3600
    job = {"id": BULK_JOB_ID, "kind": "conversation", "actor": KEY_ID, "add": ["Demo tag"], "remove": [],
           "create_missing": True, "total": 2, "changed": 0, "unchanged": 0, "failed": 0, "processed": 0,
           "created_at": now, "updated_at": now}
    with contextlib.suppress(TransactionFailed):
        store.create_job(TENANT, job, expires, bulk_budget(TENANT, (0, 60), 0, 1))
    failure = {"status": "failed", "errors": [{"code": "too_many_tags", "message": "An object carries at most "
                                               "100 tags.", "field": "tags"}]}
    store.put_mark(TENANT, BULK_JOB_ID, "demo-conversation-9", failure, expires)
    store.put_mark(TENANT, BULK_JOB_ID, DEMO_OBJECT[1], {"status": "unchanged"}, expires)
    store.count_chunk(TENANT, BULK_JOB_ID, 0, {"unchanged": 1, "failed": 1}, now)
    store.finish(TENANT, BULK_JOB_ID, now)


def main(argv: list[str] | None = None) -> int:
    from tags_tools.admin import target  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m tags_tools.sam_events",
                                     description="Seed the data the sample events in events/ refer to.")
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME") or "tags-local")
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
                        help="DynamoDB endpoint, e.g. the `DynamoDB:` line tags-local prints")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or "us-east-1")
    args = parser.parse_args(argv)
    with target(args.table, args.endpoint_url, args.region):
        seed()
    print(f"seeded tenant {TENANT!r}: tags {', '.join(TAGS)}; groups {', '.join(GROUPS)}; "
          f"{DEMO_OBJECT[0]} {DEMO_OBJECT[1]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
