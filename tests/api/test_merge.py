"""Merging tags (in process, the table's stream drained where the reverse index matters): dry run, moved
attachments and exact usage, the source's name as an alias of the target, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import (
    KINDS,
    MISSING_ID,
    Invoke,
    Repository,
    all_tags,
    assert_usage_exact,
    get_tag,
    new_tag,
    object_tags,
    ok_attach,
)
from tests.helpers import merge as merge_rules


def listed_ids(invoke: Invoke, kind: str, object_id: str) -> tuple[list[str], int]:
    """The ids of the tags an object lists, and its version."""
    data, version = object_tags(invoke, kind, object_id)
    return [t["id"] for t in data], version


def merge(invoke: Invoke, source_id: str, into_id: str, **query: Any) -> Any:
    return invoke("POST", f"/tags/{source_id}/merge", body={"into": into_id}, query=query or None)


def merge_while_the_stream_runs(invoke: Invoke, stream: StreamPoller, source_id: str, into_id: str) -> Any:
    """The merge with the stream consumer running alongside (as deployed); it must answer 200, merged."""
    stream.start(interval=0.05)
    try:
        result = merge(invoke, source_id, into_id)
    finally:
        stream.stop()
    assert result.status == 200, result.json
    assert result.data["status"] == "merged"
    return result


OBJECTS = [("conversations", "c1"), ("conversations", "c2"), ("customers", "u1"), ("comments", "m1"),
           ("customers", "u2")]


@pytest.fixture
def pair(invoke: Invoke, stream: StreamPoller) -> dict[str, Any]:
    """`source` on c1, c2, u1; `into` on c2 (so c2 carries both) and m1; a bystander on u2 and c1."""
    source = new_tag(invoke, "Hot Lead")
    into = new_tag(invoke, "Qualified")
    bystander = new_tag(invoke, "Bystander")
    for kind, object_id in (("conversations", "c1"), ("conversations", "c2"), ("customers", "u1")):
        ok_attach(invoke, kind, object_id, ids=[source["id"]])
    ok_attach(invoke, "conversations", "c2", ids=[into["id"]])
    ok_attach(invoke, "comments", "m1", ids=[into["id"]])
    ok_attach(invoke, "customers", "u2", ids=[bystander["id"]])
    ok_attach(invoke, "conversations", "c1", ids=[bystander["id"]])
    stream.drain()
    return {"source": get_tag(invoke, source["id"]), "into": get_tag(invoke, into["id"]),
            "bystander": get_tag(invoke, bystander["id"])}


def snapshot(invoke: Invoke) -> dict[str, Any]:
    return {"tags": all_tags(invoke), "objects": {o: listed_ids(invoke, *o) for o in OBJECTS}}


# --- dry run -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["true", "True"])
def test_dry_run_reports_counts_and_changes_nothing(invoke: Invoke, pair: dict[str, Any], flag: str) -> None:
    source, into = pair["source"], pair["into"]
    before = snapshot(invoke)
    result = merge(invoke, source["id"], into["id"], dry_run=flag)
    assert result.status == 200, result.json
    data = result.data
    assert data["id"] == source["id"] and data["into"] == into["id"]
    assert data["dry_run"] is True and data["status"] == "dry_run"
    assert data["alias"] == "Hot Lead"
    assert data["objects"] == {"conversation": 2, "customer": 1, "comment": 0}
    assert snapshot(invoke) == before
    # still an ordinary tag: its name is its own, it can be attached
    again = invoke("POST", "/tags", body={"name": "hot lead"})
    assert again.status == 409 and again.json["errors"][0]["existing_id"] == source["id"]
    ok_attach(invoke, "comments", "m9", ids=[source["id"]])
    assert get_tag(invoke, source["id"])["usage"]["comment"] == 1


def test_a_dry_run_and_the_real_merge_under_one_idempotency_key_are_two_requests(invoke: Invoke,
                                                                                 pair: dict[str, Any]) -> None:
    source, into = pair["source"], pair["into"]
    key = {"Idempotency-Key": "merge-once"}
    path, body = f"/tags/{source['id']}/merge", {"into": into["id"]}
    assert invoke("POST", path, body=body, query={"dry_run": "true"}, headers=key).data["status"] == "dry_run"

    reused = invoke("POST", path, body=body, headers=key)  # not a replay of the dry run, and nothing merged
    assert reused.status == 409 and reused.error_codes == ["idempotency_key_reused"]
    assert get_tag(invoke, source["id"])["id"] == source["id"]

    merged = invoke("POST", path, body=body, headers={"Idempotency-Key": "merge-for-real"})
    assert merged.status == 200 and merged.data["status"] == "merged"
    replayed = invoke("POST", path, body=body, headers={"Idempotency-Key": "merge-for-real"})
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.data == merged.data


def test_dry_run_still_validates(invoke: Invoke, pair: dict[str, Any]) -> None:
    source = pair["source"]
    assert merge(invoke, source["id"], source["id"], dry_run="true").status == 400
    unknown = merge(invoke, source["id"], MISSING_ID, dry_run="true")
    assert unknown.status == 400 and unknown.error_codes == ["tag_not_found"]
    assert merge(invoke, MISSING_ID, source["id"], dry_run="true").status == 404


# --- merge -------------------------------------------------------------------------------------------------------

def test_merge_moves_every_attachment(invoke: Invoke, pair: dict[str, Any], stream: StreamPoller,
                                      tenant: Any) -> None:
    source, into, bystander = pair["source"], pair["into"], pair["bystander"]
    versions = {o: listed_ids(invoke, *o)[1] for o in OBJECTS}
    total_before = invoke("GET", "/tags").json["meta"]["total"]

    result = merge(invoke, source["id"], into["id"])
    assert result.status == 200, result.json
    data = result.data
    assert data["status"] == "merged" and data["dry_run"] is False
    assert data["objects"] == {"conversation": 2, "customer": 1, "comment": 0}
    assert data["moved"] == {"conversation": 2, "customer": 1, "comment": 0}

    expected = {("conversations", "c1"): {into["id"], bystander["id"]}, ("conversations", "c2"): {into["id"]},
                ("customers", "u1"): {into["id"]}, ("comments", "m1"): {into["id"]},
                ("customers", "u2"): {bystander["id"]}}
    for obj, tag_ids in expected.items():
        ids, version = listed_ids(invoke, *obj)
        assert sorted(ids) == sorted(tag_ids), obj  # c2 carried both: it keeps one
        if obj in (("conversations", "c1"), ("conversations", "c2"), ("customers", "u1")):
            assert version > versions[obj]  # the object's tags changed: its ETag moves
    after = get_tag(invoke, into["id"])
    assert after["usage"] == {"conversation": 2, "customer": 1, "comment": 1}
    assert {k: v for k, v in after.items() if k not in ("usage", "updated_at", "version")} == {
        k: v for k, v in into.items() if k not in ("usage", "updated_at", "version")}
    assert get_tag(invoke, bystander["id"]) == bystander
    assert_usage_exact(invoke, OBJECTS)

    gone = invoke("GET", f"/tags/{source['id']}")
    assert gone.status == 404 and gone.error_codes == ["not_found"]
    assert invoke("GET", "/tags").json["meta"]["total"] == total_before - 1
    assert source["id"] not in {t["id"] for t in all_tags(invoke)}

    stream.drain()
    reverse = invoke("GET", f"/tags/{into['id']}/objects")
    assert reverse.status == 200
    assert sorted((o["kind"], o["id"]) for o in reverse.data) == [
        ("comment", "m1"), ("conversation", "c1"), ("conversation", "c2"), ("customer", "u1")]
    assert invoke("GET", f"/tags/{source['id']}/objects").status == 404
    for kind, object_id in OBJECTS:
        stored = Repository().get_tag_set(tenant.id, KINDS[kind], object_id) or {}
        assert source["id"] not in (stored.get("tags") or {})
    assert merge(invoke, source["id"], into["id"]).status == 404  # done: the source is gone


def test_merge_of_an_unused_tag(invoke: Invoke) -> None:
    source = new_tag(invoke, "Unused")
    into = new_tag(invoke, "Target")
    result = merge(invoke, source["id"], into["id"])
    assert result.status == 200, result.json
    assert result.data["status"] == "merged"
    assert result.data["objects"] == {"conversation": 0, "customer": 0, "comment": 0}
    assert invoke("GET", f"/tags/{source['id']}").status == 404
    clash = invoke("POST", "/tags", body={"name": "UNUSED"})
    assert clash.status == 409 and clash.json["errors"][0]["existing_id"] == into["id"]


def test_merge_right_after_attaching_waits_for_the_stream(invoke: Invoke, stream: StreamPoller) -> None:
    """The reverse index follows the stream; with the stream consumer running (as deployed), a merge issued right
    after attaching still moves everything."""
    source = new_tag(invoke, "Fresh")
    into = new_tag(invoke, "Target")
    objects = [("conversations", f"c{i}") for i in range(4)]
    for kind, object_id in objects:
        ok_attach(invoke, kind, object_id, ids=[source["id"]])
    merge_while_the_stream_runs(invoke, stream, source["id"], into["id"])
    for obj in objects:
        assert listed_ids(invoke, *obj)[0] == [into["id"]]
    assert_usage_exact(invoke, objects)


def test_merge_in_several_rounds(invoke: Invoke, stream: StreamPoller, monkeypatch: pytest.MonkeyPatch) -> None:
    """More objects than one round moves (98 in production, shrunk to 2 here to keep the test small): each round
    reads the reverse index again, which follows the stream running alongside."""
    monkeypatch.setattr(merge_rules, "CHUNK", 2)
    source = new_tag(invoke, "Many")
    into = new_tag(invoke, "Target")
    objects = [("customers", f"u{i}") for i in range(5)] + [("comments", "m1")]
    for kind, object_id in objects:
        ok_attach(invoke, kind, object_id, ids=[source["id"]])
    ok_attach(invoke, "customers", "u3", ids=[into["id"]])
    stream.drain()
    result = merge_while_the_stream_runs(invoke, stream, source["id"], into["id"])
    assert result.data["moved"] == {"conversation": 0, "customer": 5, "comment": 1}
    for obj in objects:
        assert listed_ids(invoke, *obj)[0] == [into["id"]]
    assert_usage_exact(invoke, objects)


def test_merge_of_a_grouped_tag_moves_the_group_count(invoke: Invoke, stream: StreamPoller) -> None:
    group = invoke("POST", "/tag-groups", body={"name": "G"}).data
    source = new_tag(invoke, "In group", group_id=group["id"])
    into = new_tag(invoke, "Free")
    ok_attach(invoke, "customers", "u1", ids=[source["id"]])
    stream.drain()
    assert invoke("GET", f"/tag-groups/{group['id']}").data["tag_count"] == 1
    assert merge(invoke, source["id"], into["id"]).status == 200
    assert invoke("GET", f"/tag-groups/{group['id']}").data["tag_count"] == 0
    assert invoke("DELETE", f"/tag-groups/{group['id']}").status == 200


# --- the alias ---------------------------------------------------------------------------------------------------

def test_the_old_name_is_an_alias_of_into(invoke: Invoke, pair: dict[str, Any], stream: StreamPoller) -> None:
    source, into = pair["source"], pair["into"]
    assert merge(invoke, source["id"], into["id"]).status == 200

    for name in ("Hot Lead", "hot lead", "  HOT   LEAD "):
        result = invoke("POST", "/tags", body={"name": name})
        assert result.status == 409, result.json
        assert result.error_codes == ["tag_exists"]
        assert result.json["errors"][0]["existing_id"] == into["id"]
    batch = invoke("POST", "/tags/batch", body={"tags": ["hot lead", "Brand new"]})
    assert batch.status == 200, batch.json
    assert batch.data["existing"] == [{"id": into["id"], "name": "hot lead"}]
    assert [t["name"] for t in batch.data["inserted"]] == ["Brand new"]

    tags_before = {t["id"] for t in all_tags(invoke)}
    by_name = ok_attach(invoke, "comments", "m7", ["Hot Lead"])
    assert [t["id"] for t in by_name.data] == [into["id"]]
    strict = ok_attach(invoke, "customers", "u7", ["hot lead"], create_missing=False)
    assert [t["id"] for t in strict.data] == [into["id"]]
    assert {t["id"] for t in all_tags(invoke)} == tags_before  # nothing created
    already = ok_attach(invoke, "conversations", "c1", ["HOT LEAD"])  # c1 carries into already
    assert already.data == invoke("GET", "/conversations/c1/tags").data
    assert_usage_exact(invoke, [*OBJECTS, ("comments", "m7"), ("customers", "u7")])

    by_old_id = invoke("POST", "/comments/m8/tags", body={"tag_ids": [source["id"]]})
    assert by_old_id.status == 400 and by_old_id.error_codes == ["tag_not_found"]
    renamed = invoke("PATCH", f"/tags/{pair['bystander']['id']}", body={"name": "Hot lead"})
    assert renamed.status == 409 and renamed.json["errors"][0]["existing_id"] == into["id"]


def test_deleting_into_frees_the_alias_names(invoke: Invoke, pair: dict[str, Any], stream: StreamPoller) -> None:
    source, into = pair["source"], pair["into"]
    assert merge(invoke, source["id"], into["id"]).status == 200
    stream.drain()
    deleted = invoke("DELETE", f"/tags/{into['id']}")
    assert deleted.status == 200, deleted.json
    for name in ("hot lead", "QUALIFIED"):
        created = invoke("POST", "/tags", body={"name": name})
        assert created.status == 201, created.json
        assert created.data["id"] not in (source["id"], into["id"])
    reborn = ok_attach(invoke, "comments", "m9", ["Hot Lead"])
    assert [t["name"] for t in reborn.data] == ["hot lead"]
    assert_usage_exact(invoke, [*OBJECTS, ("comments", "m9")])


def test_merge_chain_keeps_every_alias(invoke: Invoke, stream: StreamPoller) -> None:
    a, b, c = (new_tag(invoke, n) for n in ("Alpha", "Beta", "Gamma"))
    ok_attach(invoke, "conversations", "x1", ids=[a["id"]])
    ok_attach(invoke, "conversations", "x2", ids=[b["id"]])
    stream.drain()
    assert merge(invoke, a["id"], b["id"]).status == 200
    stream.drain()
    assert merge(invoke, b["id"], c["id"]).status == 200
    stream.drain()
    for name in ("alpha", "beta"):
        clash = invoke("POST", "/tags", body={"name": name})
        assert clash.status == 409 and clash.json["errors"][0]["existing_id"] == c["id"], name
        assert [t["id"] for t in ok_attach(invoke, "customers", f"by-{name}", [name]).data] == [c["id"]]
    assert listed_ids(invoke, "conversations", "x1")[0] == [c["id"]]
    assert listed_ids(invoke, "conversations", "x2")[0] == [c["id"]]
    assert get_tag(invoke, c["id"])["usage"] == {"conversation": 2, "customer": 2, "comment": 0}
    stream.drain()
    assert invoke("DELETE", f"/tags/{c['id']}").status == 200
    for name in ("Alpha", "Beta", "Gamma"):
        assert invoke("POST", "/tags", body={"name": name}).status == 201, name


# --- refusals ----------------------------------------------------------------------------------------------------

def test_merge_into_itself_is_400(invoke: Invoke, pair: dict[str, Any]) -> None:
    source = pair["source"]
    result = merge(invoke, source["id"], source["id"])
    assert result.status == 400, result.json
    assert result.json["errors"][0].get("field") == "into"
    assert get_tag(invoke, source["id"]) == source


def test_unknown_into_is_400_tag_not_found(invoke: Invoke, pair: dict[str, Any], other_tenant: Any) -> None:
    source = pair["source"]
    theirs = invoke("POST", "/tags", body={"name": "Theirs"}, tenant=other_tenant).data
    gone = new_tag(invoke, "Gone")
    assert invoke("DELETE", f"/tags/{gone['id']}").status == 200
    for into_id in (MISSING_ID, theirs["id"], gone["id"], "nope"):
        result = merge(invoke, source["id"], into_id)
        assert result.status == 400, (into_id, result.json)
        assert result.error_codes == ["tag_not_found"]
    assert get_tag(invoke, source["id"]) == source
    ok_attach(invoke, "comments", "still-usable", ids=[source["id"]])  # not left half merged


def test_unknown_or_foreign_source_is_404(invoke: Invoke, pair: dict[str, Any], other_tenant: Any) -> None:
    into = pair["into"]
    theirs = invoke("POST", "/tags", body={"name": "Theirs"}, tenant=other_tenant).data
    for source_id in (MISSING_ID, theirs["id"], "nope"):
        result = merge(invoke, source_id, into["id"])
        assert result.status == 404, (source_id, result.json)
        assert result.error_codes == ["not_found"]
    assert invoke("GET", f"/tags/{theirs['id']}", tenant=other_tenant).data == theirs
    assert get_tag(invoke, into["id"]) == into


@pytest.mark.parametrize("body", [{}, {"into": ""}, {"into": 5}, {"into": MISSING_ID, "force": True}, None])
def test_invalid_bodies_are_400(invoke: Invoke, pair: dict[str, Any], body: Any) -> None:
    result = invoke("POST", f"/tags/{pair['source']['id']}/merge", body=body)
    assert result.status == 400, result.json
    assert get_tag(invoke, pair["source"]["id"]) == pair["source"]


def test_read_key_cannot_merge(invoke: Invoke, pair: dict[str, Any]) -> None:
    result = invoke("POST", f"/tags/{pair['source']['id']}/merge", body={"into": pair["into"]["id"]}, role="read")
    assert result.status == 403, result.json
    assert get_tag(invoke, pair["source"]["id"]) == pair["source"]
