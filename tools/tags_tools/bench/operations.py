"""Every operation of the service the benchmark times and counts: which function serves it and how to build its
i-th event (and, untimed, what n events need: tags to delete, objects to tag)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tags_tools.apigw_events import token_authorizer_event
from tags_tools.bench.state import State


@dataclass
class Op:
    """One operation of the service: which function serves it and how to build its i-th event."""

    name: str
    function: str  # logical id
    kind: str  # "read" | "write"
    label: str  # "GET /tags/{tag_id}"
    event: Callable[[int], dict[str, Any]]
    prepare: Callable[[int], None] | None = None  # make what n events need (untimed)


class _Pools:
    """Makes what n events of a destructive operation need, before they are timed, in `State.pools[name]`."""

    def __init__(self, s: State, run: str) -> None:
        self.s = s
        self.run = run

    def _fill(self, name: str, n: int, make: Callable[[int], list[Any]]) -> None:
        self.s.pools[name] = make(n)

    def tags(self, name: str, *, archived: bool = False) -> Callable[[int], None]:
        s, run = self.s, self.run
        return lambda n: self._fill(name, n, lambda k: s.seed_tags([f"{run} {name} {i:04d}" for i in range(k)],
                                                                   archived=archived))

    def bulk_jobs(self, name: str, count: int) -> Callable[[int], None]:
        return lambda n: self._fill(name, n, lambda _k: self.s.seed_bulk_jobs(count))

    def groups(self, name: str) -> Callable[[int], None]:
        s, run = self.s, self.run
        return lambda n: self._fill(name, n, lambda k: s.seed_groups([f"{run} doomed {i:04d}" for i in range(k)]))

    def objects(self, name: str, tag_ids: list[str]) -> Callable[[int], None]:
        s, run = self.s, self.run

        def make(n: int) -> list[str]:
            objects = [f"{run}-{name}-{i:04d}" for i in range(n)]
            s.seed_tag_sets("conversation", objects, tag_ids)
            return objects
        return lambda n: self._fill(name, n, make)


def operations(s: State, run: str) -> list[Op]:
    """Every operation, reads first (moto's Query scans its whole table: keep it small while timing reads)."""
    pools = _Pools(s, run)
    return [*_reads(s), *_tag_writes(s, run, pools), *_group_and_object_writes(s, run, pools), *_other_writes(s, run)]


def _reads(s: State) -> list[Op]:
    t, g = s.tags, s.groups
    return [
        Op("get_tag", "GetTagFunction", "read", "GET /tags/{tag_id}",
           lambda i: s.event("GET", "/tags/{tag_id}", {"tag_id": t[0]["id"]})),
        Op("list_tags", "ListTagsFunction", "read", "GET /tags",
           lambda i: s.event("GET", "/tags")),
        Op("get_group", "GetGroupFunction", "read", "GET /tag-groups/{group_id}",
           lambda i: s.event("GET", "/tag-groups/{group_id}", {"group_id": g[0]["id"]})),
        Op("list_groups", "ListGroupsFunction", "read", "GET /tag-groups",
           lambda i: s.event("GET", "/tag-groups")),
        Op("list_object_tags", "ListObjectTagsFunction", "read", "GET /{kind}/{object_id}/tags",
           lambda i: s.event("GET", "/{kind}/{object_id}/tags", {"kind": "conversations", "object_id": "base-object"})),
        Op("list_tag_objects", "ListTagObjectsFunction", "read", "GET /tags/{tag_id}/objects",
           lambda i: s.event("GET", "/tags/{tag_id}/objects", {"tag_id": t[0]["id"]})),
        Op("find_objects", "FindObjectsFunction", "read", "GET /{kind}?all=&none=",
           lambda i: s.event("GET", "/{kind}", {"kind": "conversations"},
                             query={"all": t[0]["id"], "none": t[1]["name"]})),
        Op("get_bulk_job", "GetBulkJobFunction", "read", "GET /bulk-jobs/{job_id}",
           lambda i: s.event("GET", "/bulk-jobs/{job_id}", {"job_id": s.pools["get_bulk_job"][i % 8]}),
           _Pools(s, "").bulk_jobs("get_bulk_job", 8)),
        Op("list_object_history", "ListObjectHistoryFunction", "read", "GET /{kind}/{object_id}/tags/history",
           lambda i: s.event("GET", "/{kind}/{object_id}/tags/history",
                             {"kind": "conversations", "object_id": "base-object"})),
        Op("authorizer", "AuthorizerFunction", "read", "TOKEN authorizer",
           lambda i: token_authorizer_event(f"Bearer {s.key}", "GET", "/tags")),
    ]


def _tag_writes(s: State, run: str, pools: _Pools) -> list[Op]:
    t = s.tags
    colors = ("#112233", "#445566")
    return [
        Op("create_tag", "CreateTagFunction", "write", "POST /tags",
           lambda i: s.event("POST", "/tags", body={"name": f"{run} created {i:04d}", "color": "#aabbcc",
                                                     "applies_to": {"customer": False}})),
        Op("create_tag+idempotency", "CreateTagFunction", "write", "POST /tags + Idempotency-Key",
           lambda i: s.event("POST", "/tags", body={"name": f"{run} idempotent {i:04d}"},
                             headers={"Idempotency-Key": f"{run}-{i}-{uuid.uuid4().hex}"})),
        Op("update_tag", "UpdateTagFunction", "write", "PATCH /tags/{tag_id}",
           lambda i: s.event("PATCH", "/tags/{tag_id}", {"tag_id": t[4]["id"]}, body={"color": colors[i % 2]})),
        Op("replace_tag", "ReplaceTagFunction", "write", "PUT /tags/{tag_id}",
           lambda i: s.event("PUT", "/tags/{tag_id}", {"tag_id": t[5]["id"]},
                             body={"name": t[5]["name"], "description": f"replaced {i % 2}", "type": "goal"})),
        Op("delete_tag", "DeleteTagFunction", "write", "DELETE /tags/{tag_id}",
           lambda i: s.event("DELETE", "/tags/{tag_id}", {"tag_id": s.pools["delete_tag"][i]["id"]}),
           pools.tags("delete_tag")),
        Op("merge_tag", "MergeTagFunction", "write", "POST /tags/{tag_id}/merge",
           lambda i: s.event("POST", "/tags/{tag_id}/merge", {"tag_id": s.pools["merge_tag"][i]["id"]},
                             body={"into": t[6]["id"]}),
           pools.tags("merge_tag")),
    ]


def _group_and_object_writes(s: State, run: str, pools: _Pools) -> list[Op]:
    t, g = s.tags, s.groups
    return [
        Op("create_group", "CreateGroupFunction", "write", "POST /tag-groups",
           lambda i: s.event("POST", "/tag-groups", body={"name": f"{run} group {i:04d}", "description": "bench"})),
        Op("update_group", "UpdateGroupFunction", "write", "PATCH /tag-groups/{group_id}",
           lambda i: s.event("PATCH", "/tag-groups/{group_id}", {"group_id": g[1]["id"]},
                             body={"description": f"described {i % 2}"})),
        Op("delete_group", "DeleteGroupFunction", "write", "DELETE /tag-groups/{group_id}",
           lambda i: s.event("DELETE", "/tag-groups/{group_id}", {"group_id": s.pools["delete_group"][i]["id"]}),
           pools.groups("delete_group")),
        Op("append_object_tags", "AppendObjectTagsFunction", "write", "POST /{kind}/{object_id}/tags",
           lambda i: s.event("POST", "/{kind}/{object_id}/tags",
                             {"kind": "conversations", "object_id": s.pools["append"][i]},
                             body={"tag_ids": [t[2]["id"], t[3]["id"]]}),
           pools.objects("append", [t[1]["id"]])),
        Op("replace_object_tags", "ReplaceObjectTagsFunction", "write", "PUT /{kind}/{object_id}/tags",
           lambda i: s.event("PUT", "/{kind}/{object_id}/tags",
                             {"kind": "conversations", "object_id": s.pools["replace"][i]},
                             body={"tag_ids": [t[2]["id"], t[3]["id"]]}),
           pools.objects("replace", [t[1]["id"], t[2]["id"]])),
        Op("remove_object_tag", "RemoveObjectTagFunction", "write", "DELETE /{kind}/{object_id}/tags/{tag_id}",
           lambda i: s.event("DELETE", "/{kind}/{object_id}/tags/{tag_id}",
                             {"kind": "conversations", "object_id": s.pools["remove"][i], "tag_id": t[1]["id"]}),
           pools.objects("remove", [t[1]["id"], t[2]["id"]])),
    ]


def _other_writes(s: State, run: str) -> list[Op]:
    """The asynchronous consumers' inputs (stream record, queue message), archiving, an inline bulk change, then the
    batch create."""
    t = s.tags
    return [
        Op("stream_processor", "StreamProcessorFunction", "write", "table stream record",
           lambda i: s.stream_event(f"{run}-stream-{i:04d}")),
        Op("command_consumer", "CommandConsumerFunction", "write", "command queue message (add 1 tag)",
           lambda i: s.sqs_event({"tenant": s.tenant, "kind": "conversations", "object_id": f"{run}-cmd-{i:04d}",
                                  "add": [t[0]["id"]]})),
        Op("archive_tag", "ArchiveTagFunction", "write", "POST /tags/{tag_id}/archive",
           lambda i: s.event("POST", "/tags/{tag_id}/archive", {"tag_id": s.pools["archive_tag"][i]["id"]}),
           _Pools(s, run).tags("archive_tag")),
        Op("restore_tag", "RestoreTagFunction", "write", "POST /tags/{tag_id}/restore",
           lambda i: s.event("POST", "/tags/{tag_id}/restore", {"tag_id": s.pools["restore_tag"][i]["id"]}),
           _Pools(s, run).tags("restore_tag", archived=True)),
        Op("bulk_change_object_tags", "BulkChangeObjectTagsFunction", "write", "POST /{kind}/tags/bulk (2 objects)",
           lambda i: s.event("POST", "/{kind}/tags/bulk", {"kind": "conversations"},
                             body={"objects": [f"{run}-bulk-{i:04d}-{k}" for k in "ab"], "add": [t[0]["id"]]})),
        Op("batch_create_tags", "BatchCreateTagsFunction", "write", "POST /tags/batch (5 names)",
           lambda i: s.event("POST", "/tags/batch", body={"tags": [f"{run} batch {i:04d}-{k}" for k in range(5)]})),
    ]
