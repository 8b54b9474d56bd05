"""Concurrent writers over HTTP (`tags-local`, its worker processes and its own stream consumer): 20 threads with
their own write keys attach and remove overlapping tags, by name and by id, on the same three objects while two
of them delete tags midway. Afterwards every live tag's usage equals a recount over the objects, no object lists
a deleted tag, and (once the stream consumer caught up) the reverse lookup matches the objects."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

from tests.helpers import KINDS, create_api_key

OBJECTS = [("conversations", "c1"), ("conversations", "c2"), ("customers", "u1")]
NAMES = [f"Tag {i}" for i in range(8)]
PRECREATED = NAMES[:6]  # the others are created by attaching them by name
DOOMED = ["Tag 0", "Tag 1"]  # deleted midway (by their original id)
WRITERS = 20
OPS_PER_WRITER = 12
RETRIED = {412, 429, 503}
TEST_BUDGET_SECONDS = 55.0


class Run:
    """What the writers did, shared between threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.unexpected: list[tuple[str, str, int, Any]] = []
        self.known_ids: set[str] = set()
        self.deleted: set[str] = set()

    def note(self, label: str) -> None:
        with self.lock:
            self.outcomes[label] += 1


def test_concurrent_writers_keep_usage_exact_and_hide_deleted_tags(local_api: Any, http_tenant: Any) -> None:
    started = time.monotonic()
    deadline = started + 40.0
    with local_api.pointing_here():  # one write key per writer: the rate limit is per key and object
        keys = [create_api_key(http_tenant.id, "write", f"writer {i}")[1] for i in range(WRITERS)]
    admin = http_tenant.write_key

    tag_ids: dict[str, str] = {}
    for name in PRECREATED:
        created = local_api.request("POST", "/tags", json={"name": name}, key=admin)
        assert created.status == 201, created.json
        tag_ids[name] = created.json["data"]["id"]
    run = Run()
    run.known_ids.update(tag_ids.values())

    def send(key: str, method: str, path: str, body: Any = None) -> Any:
        """One request, retried (bounded) while the answer says to retry."""
        for attempt in range(10):
            options: dict[str, Any] = {"key": key, "timeout": 20.0}
            if body is not None:
                options["json"] = body
            result = local_api.request(method, path, **options)
            if result.status not in RETRIED or time.monotonic() > deadline:
                return result
            run.note(f"retry {result.status}")
            time.sleep(0.05 + random.random() * 0.1 * (attempt + 1))
        return result

    def writer(index: int) -> None:
        rng = random.Random(index)
        key = keys[index]
        for op in range(OPS_PER_WRITER):
            if time.monotonic() > deadline:
                return
            if index < len(DOOMED) and op == OPS_PER_WRITER // 2:
                doomed_id = tag_ids[DOOMED[index]]
                result = send(key, "DELETE", f"/tags/{doomed_id}")
                if result.status == 200:
                    with run.lock:
                        run.deleted.add(doomed_id)
                    run.note("deleted tag")
                else:
                    run.unexpected.append((key[:12], f"DELETE /tags/{doomed_id}", result.status, result.json))
                continue
            kind, object_id = rng.choice(OBJECTS)
            path = f"/{kind}/{object_id}/tags"
            choice = rng.random()
            if choice < 0.35:
                label, method = "attach by name", "POST"
                body: Any = {"tags": rng.sample(NAMES, rng.randint(1, 3))}
            elif choice < 0.6:
                label, method = "attach by id", "POST"
                body = {"tag_ids": rng.sample(sorted(tag_ids.values()), rng.randint(1, 2)),
                        "tags": rng.sample(NAMES, rng.randint(0, 1))}
            elif choice < 0.93:
                with run.lock:
                    candidates = sorted(run.known_ids)
                label, method, body = "remove", "DELETE", None
                path = f"{path}/{rng.choice(candidates)}"
            else:
                label, method = "replace", "PUT"
                body = {"tags": rng.sample(NAMES, 2)}
            result = send(key, method, path, body)
            if result.status == 200:
                run.note(label)
                with run.lock:
                    run.known_ids.update(t["id"] for t in result.json["data"])
            elif result.status == 400 and result.json and [e["code"] for e in result.json["errors"]] == [
                    "tag_not_found"] and label in ("attach by id", "replace"):
                run.note("refused: deleted tag id")  # attaching a tag deleted meanwhile, by its id
            elif result.status in RETRIED:
                run.note(f"gave up after {result.status}")
            else:
                run.unexpected.append((key[:12], f"{method} {path}", result.status, result.json))

    threads = [threading.Thread(target=writer, args=(i,), name=f"writer-{i}") for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline + 15 - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "writers did not finish in time"
    assert run.unexpected == [], run.unexpected
    assert run.deleted == {tag_ids[name] for name in DOOMED}, run.outcomes
    writes = sum(n for label, n in run.outcomes.items() if label in ("attach by name", "attach by id", "remove",
                                                                         "replace"))
    assert writes >= WRITERS * OPS_PER_WRITER // 2, run.outcomes

    read = http_tenant.read_key

    def get(path: str, **query: Any) -> Any:
        result = local_api.request("GET", path, key=read, query=query or None)
        assert result.status == 200, (path, result.json)
        return result.json

    def state() -> tuple[dict[tuple[str, str], list[dict[str, Any]]], dict[str, dict[str, Any]]]:
        lists = {obj: get(f"/{obj[0]}/{obj[1]}/tags")["data"] for obj in OBJECTS}
        page = get("/tags", limit=100)
        assert page["meta"]["next_cursor"] is None
        return lists, {t["id"]: t for t in page["data"]}

    # The objects' lists and the counts are exact at once; nothing to wait for.
    lists, live = state()
    carried: dict[str, Counter[str]] = {}
    for (kind, object_id), tags in lists.items():
        ids = [t["id"] for t in tags]
        assert len(ids) == len(set(ids)), (object_id, ids)
        assert not set(ids) & run.deleted, f"{kind}/{object_id} lists a deleted tag"
        assert set(ids) <= set(live), f"{kind}/{object_id} lists a tag that is not live"
        for tag_id in ids:
            carried.setdefault(tag_id, Counter())[KINDS[kind]] += 1
    for tag_id, t in live.items():
        expected = {k: carried.get(tag_id, Counter())[k] for k in ("conversation", "customer", "comment")}
        assert t["usage"] == expected, (t["name"], t["usage"], expected, run.outcomes)
    assert len({t["name"].casefold() for t in live.values()}) == len(live), "two live tags share a name"
    for tag_id in run.deleted:
        gone = local_api.request("GET", f"/tags/{tag_id}", key=read)
        assert gone.status == 404, gone.json

    # The reverse lookup follows the local stream consumer: poll (bounded) until it matches the objects.
    wanted = {tag_id: sorted((KINDS[k], o) for (k, o), tags in lists.items() if tag_id in {t["id"] for t in tags})
              for tag_id in live}
    found: dict[str, list[tuple[str, str]]] = {}
    wait_until = min(time.monotonic() + 15.0, started + TEST_BUDGET_SECONDS)
    while True:
        found = {tag_id: sorted((o["kind"], o["id"]) for o in get(f"/tags/{tag_id}/objects", limit=100)["data"])
                 for tag_id in live}
        if found == wanted or time.monotonic() > wait_until:
            break
        time.sleep(0.3)
    assert found == wanted
    assert state() == (lists, live), "something changed after the writers stopped"
    for tag_id in run.deleted:
        assert local_api.request("GET", f"/tags/{tag_id}/objects", key=read).status == 404
    assert time.monotonic() - started < 60.0
