"""A bulk job end to end over HTTP: `tags-local` queues its chunks on the embedded SQS and its queue poller runs
the command consumer, so the README's walk-through ends `done` with `make run`, as on AWS."""

from __future__ import annotations

import time
from typing import Any


def test_a_bulk_job_runs_to_done_on_tags_local(local_api: Any, http_tenant: Any) -> None:
    key = http_tenant.write_key
    objects = [f"c-{n}" for n in range(130)]
    accepted = local_api.request("POST", "/conversations/tags/bulk", key=key,
                                 json={"objects": objects, "add": ["Bulk", "VIP"]})
    assert accepted.status == 202, accepted.json
    job_id = accepted.json["data"]["id"]
    deadline = time.monotonic() + 120
    while True:
        job = local_api.request("GET", f"/bulk-jobs/{job_id}", key=key).json["data"]
        if job["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "done", job
    assert job["progress"] == {"total": 130, "changed": 130, "unchanged": 0, "failed": 0}
    assert job["failures"] == []
    tags = local_api.request("GET", "/conversations/c-129/tags", key=key).json["data"]
    assert sorted(t["name"] for t in tags) == ["Bulk", "VIP"]
    assert {t["usage"]["conversation"] for t in tags} == {130}
    status = local_api.request("GET", "/_local/status", key=None).json
    assert status["command_queue"]["processed"] >= 6
