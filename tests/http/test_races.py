"""Races over HTTP against `tags-local` (its worker processes, its own DynamoDB): 32 threads released together by a
barrier send one request each, and exactly one of them may win.

- 32 creates of one name, spelled 32 ways (case, whitespace, Unicode composition): one 201, 31 times 409 `tag_exists`
  naming the winner's id.
- 32 PATCHes of one tag with the same `If-Match`: one 200, 31 times 412 `precondition_failed`.
- 32 POSTs with one `Idempotency-Key` and one body: one tag written; every answer is that tag's 201 (the first,
  or a replay marked `Idempotent-Replayed: true`) or 409 `idempotency_key_in_use` (docs/errors.md: the first
  request is still running, retry). The same key with another body: 409 `idempotency_key_reused`.

The local server applies DynamoDB requests one at a time (DynamoDB applies each atomically; moto alone would not):
the races are between the functions' read-check-write sequences, which is what these tests are about.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from tags_core.names import normalize_name
from tests.helpers import spellings

RACERS = 32
REQUEST_TIMEOUT = 60.0
BARRIER_TIMEOUT = 30.0


def race(send: Callable[[int], Any]) -> list[Any]:
    """Run send(i) for i in range(RACERS), one thread each, all released at once; the answers in order of i."""
    barrier = threading.Barrier(RACERS)
    answers: list[Any] = [None] * RACERS
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            answers[index] = send(index)
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(RACERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + BARRIER_TIMEOUT + REQUEST_TIMEOUT + 10
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "racers did not finish in time"
    assert not failures, failures
    return answers


def codes(result: Any) -> list[str]:
    body = result.json if isinstance(result.json, dict) else {}
    return [e.get("code") for e in body.get("errors") or []]


def test_32_creates_of_one_name_spelled_32_ways_make_one_tag(local_api: Any, http_tenant: Any) -> None:
    names = spellings(f"Café Crème {uuid.uuid4().hex[:6]}", RACERS)

    def create(index: int) -> Any:
        return local_api.request("POST", "/tags", json={"name": names[index]}, key=http_tenant.write_key,
                                 timeout=REQUEST_TIMEOUT)

    answers = race(create)
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: RACERS - 1}, (statuses, [(a.status, a.json) for a in answers if a.status >= 500])
    (winner,) = [a.json["data"] for a in answers if a.status == 201]
    for answer in answers:
        if answer.status == 409:
            (error,) = answer.json["errors"]
            assert error["code"] == "tag_exists", answer.json
            assert error["existing_id"] == winner["id"], answer.json

    listing = local_api.request("GET", "/tags", query={"limit": 100}, key=http_tenant.read_key)
    assert [t["id"] for t in listing.json["data"]] == [winner["id"]]
    assert winner["name"] == normalize_name(names[answers.index(next(a for a in answers if a.status == 201))])


def test_32_patches_with_one_if_match_make_one_change(local_api: Any, http_tenant: Any) -> None:
    created = local_api.request("POST", "/tags", json={"name": "Patched by one"}, key=http_tenant.write_key)
    assert created.status == 201, created.json
    tag = created.json["data"]
    etag = f'"{tag["version"]}"'

    def patch(index: int) -> Any:
        return local_api.request("PATCH", f"/tags/{tag['id']}", json={"description": f"writer {index}"},
                                 headers={"If-Match": etag}, key=http_tenant.write_key, timeout=REQUEST_TIMEOUT)

    answers = race(patch)
    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 412: RACERS - 1}, (statuses, [(a.status, a.json) for a in answers if a.status >= 500])
    assert all(codes(a) == ["precondition_failed"] for a in answers if a.status == 412)
    winner = answers.index(next(a for a in answers if a.status == 200))
    changed = answers[winner].json["data"]
    assert changed["version"] == tag["version"] + 1
    assert changed["description"] == f"writer {winner}"

    now = local_api.request("GET", f"/tags/{tag['id']}", key=http_tenant.read_key)
    assert now.json["data"]["version"] == tag["version"] + 1
    assert now.json["data"]["description"] == f"writer {winner}"
    assert now.headers["ETag"] == f'"{tag["version"] + 1}"'


def test_32_posts_with_one_idempotency_key_write_one_tag(local_api: Any, http_tenant: Any) -> None:
    key = f"race-{uuid.uuid4()}"
    body = {"name": "Written once", "color": "#00aa11"}

    def post(_: int) -> Any:
        return local_api.request("POST", "/tags", json=body, headers={"Idempotency-Key": key},
                                 key=http_tenant.write_key, timeout=REQUEST_TIMEOUT)

    answers = race(post)
    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {201, 409}, (statuses, [(a.status, a.json) for a in answers if a.status != 201])
    assert all(codes(a) == ["idempotency_key_in_use"] for a in answers if a.status == 409), [
        a.json for a in answers if a.status == 409]
    created = [a for a in answers if a.status == 201]
    first = [a for a in created if "Idempotent-Replayed" not in a.headers]
    assert len(first) == 1, [dict(a.headers) for a in created]  # the request that ran; the others are replays
    assert all(a.headers["Idempotent-Replayed"] == "true" for a in created if a is not first[0])
    tag_id = first[0].json["data"]["id"]
    assert {a.json["data"]["id"] for a in created} == {tag_id}
    assert all(a.json == first[0].json for a in created), "a replay is the first response"

    listing = local_api.request("GET", "/tags", query={"limit": 100}, key=http_tenant.read_key)
    assert [t["id"] for t in listing.json["data"]] == [tag_id]

    # Once the first request finished, a retry is always its replay ...
    again = post(0)
    assert again.status == 201 and again.json["data"]["id"] == tag_id
    assert again.headers["Idempotent-Replayed"] == "true"
    # ... and the same key with another body is refused, writing nothing.
    other = local_api.request("POST", "/tags", json={"name": "Written twice?"}, headers={"Idempotency-Key": key},
                              key=http_tenant.write_key)
    assert other.status == 409
    assert codes(other) == ["idempotency_key_reused"]
    listing = local_api.request("GET", "/tags", query={"limit": 100}, key=http_tenant.read_key)
    assert [t["id"] for t in listing.json["data"]] == [tag_id]
