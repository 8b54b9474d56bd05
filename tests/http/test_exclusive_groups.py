"""An exclusive group under concurrency, over HTTP (`tags-local`, its worker processes): 32 threads, each with its
own write key, attach a different tag of a `max_per_object: 1` group to the same object at once. Exactly one
attach wins; every other answer is 409 `group_limit` (after retries of 503 when the object changed too fast);
the object carries exactly one tag of the group and the usage counts equal a recount."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.helpers import assert_usage_exact, create_api_key

THREADS = 32
RETRIED = {412, 429, 503}


def test_32_concurrent_attaches_to_an_exclusive_group_leave_exactly_one(local_api: Any, http_tenant: Any) -> None:
    admin = http_tenant.write_key
    group = local_api.request("POST", "/tag-groups", json={"name": "Priority", "max_per_object": 1}, key=admin)
    assert group.status == 201, group.json
    tag_ids = []
    for n in range(THREADS):
        created = local_api.request("POST", "/tags", json={"name": f"P{n}", "group_id": group.json["data"]["id"]},
                                    key=admin)
        assert created.status == 201, created.json
        tag_ids.append(created.json["data"]["id"])
    with local_api.pointing_here():  # one key per thread: the write budget is per key and object
        keys = [create_api_key(http_tenant.id, "write", f"racer {n}")[1] for n in range(THREADS)]

    barrier = threading.Barrier(THREADS)
    outcomes: list[tuple[int, Any]] = [(0, None)] * THREADS
    deadline = time.monotonic() + 60.0

    def racer(n: int) -> None:
        barrier.wait()
        for _ in range(20):
            result = local_api.request("POST", "/conversations/race/tags", json={"tag_ids": [tag_ids[n]]},
                                       key=keys[n], timeout=30.0)
            if result.status not in RETRIED or time.monotonic() > deadline:
                break
            time.sleep(0.05 * (n % 5 + 1))
        outcomes[n] = (result.status, result.json)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] + [409] * (THREADS - 1), statuses
    assert all(body["errors"][0]["code"] == "group_limit" for status, body in outcomes if status == 409)
    carried = local_api.request("GET", "/conversations/race/tags", key=admin).json["data"]
    winner = next(n for n, (status, _) in enumerate(outcomes) if status == 200)
    assert [t["id"] for t in carried] == [tag_ids[winner]]
    assert_usage_exact(_invoker(local_api, admin), [("conversations", "race")])


def _invoker(local_api: Any, key: str) -> Any:
    """assert_usage_exact's invoke(), over HTTP."""

    class Answer:
        def __init__(self, result: Any) -> None:
            self.status, self.json = result.status, result.json
            self.data = result.json.get("data") if isinstance(result.json, dict) else None

    def invoke(method: str, path: str, query: dict[str, Any] | None = None, **_: Any) -> Answer:
        suffix = "?" + "&".join(f"{k}={v}" for k, v in (query or {}).items()) if query else ""
        return Answer(local_api.request(method, path + suffix, key=key))

    return invoke
