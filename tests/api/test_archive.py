"""Archiving and restoring tags (issue 15): `archived_at`, hidden from lists and search unless asked for, never
attached (by id, by name or through an alias) nor created anew by name, still shown on the objects that carry it,
name kept; merge and delete keep working; restore undoes all of it."""

from __future__ import annotations

from typing import Any

import pytest

from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import (
    RFC3339_UTC,
    Invoke,
    all_tags,
    assert_error,
    attach,
    get_tag,
    list_tags,
    names_of,
    new_tag,
    object_tags,
)


@pytest.fixture
def shelved(invoke: Invoke) -> dict[str, Any]:
    """'Legacy' archived and carried by conversation c1; 'Current' active."""
    legacy, current = new_tag(invoke, "Legacy"), new_tag(invoke, "Current")
    assert attach(invoke, "conversations", "c1", ids=[legacy["id"], current["id"]]).status == 200
    archived = invoke("POST", f"/tags/{legacy['id']}/archive")
    assert archived.status == 200, archived.json
    return {"legacy": archived.data, "current": current, "etag": archived.headers["ETag"]}


def test_archive_sets_archived_at_and_a_new_version(invoke: Invoke, shelved: dict[str, Any]) -> None:
    legacy = shelved["legacy"]
    assert RFC3339_UTC.match(legacy["archived_at"]) and legacy["version"] == 2
    assert legacy["updated_at"] == legacy["archived_at"]
    assert shelved["etag"] == '"2"'
    assert get_tag(invoke, legacy["id"])["archived_at"] == legacy["archived_at"]
    assert shelved["current"]["archived_at"] is None  # on every tag, null when active
    again = invoke("POST", f"/tags/{legacy['id']}/archive")
    assert again.status == 200 and again.data == get_tag(invoke, legacy["id"])  # no change the second time


def test_lists_and_search_hide_archived_tags_unless_asked(invoke: Invoke, shelved: dict[str, Any]) -> None:
    default = list_tags(invoke)
    assert names_of(default) == ["Current"] and default.json["meta"]["total"] == 1
    only = list_tags(invoke, archived="true")
    assert names_of(only) == ["Legacy"] and only.json["meta"]["total"] == 1
    both = list_tags(invoke, archived="all", sort="-created_at")
    assert names_of(both) == ["Current", "Legacy"] and both.json["meta"]["total"] == 2
    assert names_of(list_tags(invoke, q="leg")) == []
    assert names_of(list_tags(invoke, q="leg", archived="true")) == ["Legacy"]
    assert names_of(list_tags(invoke, q="leg", archived="all")) == ["Legacy"]
    assert_error(invoke("GET", "/tags", query={"archived": "yes"}), 400, "invalid_choice", "archived")


def test_a_cursor_through_many_tags_skips_the_archived_ones(invoke: Invoke) -> None:
    made = [new_tag(invoke, f"t{i:02}") for i in range(12)]
    for tag in made[::3]:
        assert invoke("POST", f"/tags/{tag['id']}/archive").status == 200
    listed = [t["name"] for t in all_tags(invoke)]
    assert listed == [t["name"] for i, t in enumerate(made) if i % 3]
    pages = invoke("GET", "/tags", query={"limit": 3})
    assert names_of(pages) == ["t01", "t02", "t04"] and pages.json["meta"]["total"] == 8


def test_an_archived_tag_cannot_be_attached_by_id_name_or_alias(invoke: Invoke, shelved: dict[str, Any]) -> None:
    legacy = shelved["legacy"]
    entry = assert_error(attach(invoke, "customers", "u1", ids=[legacy["id"]]), 400, "tag_archived", "tags")
    assert entry["tag_id"] == legacy["id"]
    assert_error(attach(invoke, "customers", "u1", ["LEGACY"]), 400, "tag_archived")
    assert_error(attach(invoke, "customers", "u1", ["legacy"], method="PUT"), 400, "tag_archived")
    old = new_tag(invoke, "Old name")
    assert invoke("POST", f"/tags/{old['id']}/merge", body={"into": legacy["id"]}).json["data"]["status"] == "merged"
    assert_error(attach(invoke, "customers", "u1", ["Old name"]), 400, "tag_archived")  # an alias of it
    assert object_tags(invoke, "customers", "u1")[0] == []
    assert [t["name"] for t in all_tags(invoke)] == ["Current"]  # never created anew by name
    assert get_tag(invoke, legacy["id"])["usage"]["customer"] == 0


def test_the_name_stays_taken_and_the_objects_keep_showing_it(invoke: Invoke, shelved: dict[str, Any]) -> None:
    legacy = shelved["legacy"]
    assert_error(invoke("POST", "/tags", body={"name": "legacy"}), 409, "tag_exists")
    carried, _ = object_tags(invoke, "conversations", "c1")
    assert [(t["name"], t["archived_at"]) for t in carried] == [("Current", None), ("Legacy", legacy["archived_at"])]
    # re-asking for it where it already is changes nothing; removing it works
    assert attach(invoke, "conversations", "c1", ids=[legacy["id"]]).json["meta"]["version"] == 1
    removed = invoke("DELETE", f"/conversations/c1/tags/{legacy['id']}")
    assert removed.status == 200 and [t["name"] for t in removed.data] == ["Current"]
    assert get_tag(invoke, legacy["id"])["usage"]["conversation"] == 0


def test_merge_and_delete_of_archived_tags_keep_working(invoke: Invoke, shelved: dict[str, Any],
                                                        stream: StreamPoller) -> None:
    legacy, current = shelved["legacy"], shelved["current"]
    stream.drain()  # the merge finds the objects through the reverse index
    other = new_tag(invoke, "Other")
    assert invoke("POST", f"/tags/{other['id']}/archive").status == 200
    assert list_tags(invoke, archived="true").json["meta"]["total"] == 2
    merged = invoke("POST", f"/tags/{legacy['id']}/merge", body={"into": current["id"]})
    assert merged.status == 200 and merged.data["status"] == "merged"
    assert [t["name"] for t in object_tags(invoke, "conversations", "c1")[0]] == ["Current"]
    assert invoke("DELETE", f"/tags/{other['id']}").status == 200
    assert list_tags(invoke, archived="true").json["meta"]["total"] == 0
    assert list_tags(invoke, archived="all").json["meta"]["total"] == 1
    assert list_tags(invoke).json["meta"]["total"] == 1


def test_restore_undoes_all_of_it(invoke: Invoke, shelved: dict[str, Any]) -> None:
    legacy = shelved["legacy"]
    restored = invoke("POST", f"/tags/{legacy['id']}/restore")
    assert restored.status == 200 and restored.data["archived_at"] is None and restored.data["version"] == 3
    assert names_of(list_tags(invoke)) == ["Current", "Legacy"] and list_tags(invoke).json["meta"]["total"] == 2
    assert names_of(list_tags(invoke, archived="true")) == []
    assert names_of(list_tags(invoke, q="leg")) == ["Legacy"]
    assert attach(invoke, "customers", "u1", ["legacy"]).status == 200
    assert get_tag(invoke, legacy["id"])["usage"] == {"conversation": 1, "customer": 1, "comment": 0}
    assert invoke("POST", f"/tags/{legacy['id']}/restore").data["version"] == 3  # again: no change


def test_archive_needs_a_write_key_and_an_existing_tag(invoke: Invoke, shelved: dict[str, Any]) -> None:
    tag_id = shelved["current"]["id"]
    assert_error(invoke("POST", f"/tags/{tag_id}/archive", role="read"), 403, "forbidden")
    assert_error(invoke("POST", "/tags/01JDXXXXXXXXXXXXXXXXXXXXXX/archive"), 404, "not_found")
    assert_error(invoke("POST", "/tags/nope/restore"), 404, "not_found")
    assert get_tag(invoke, tag_id)["archived_at"] is None
