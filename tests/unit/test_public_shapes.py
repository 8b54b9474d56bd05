"""The public shape of a tag and of a group is built by one function each (`present`); the response models that
document it (OpenAPI) must describe exactly that shape, so the two cannot drift apart."""

from __future__ import annotations

from tags_core.domain import groups, tags
from tags_core.domain.models import Group, Tag

STORED_TAG = {"id": "01JD0000000000000000000000", "name": "Hot", "name_slug": "hot", "type": "tag", "group_id": None,
              "applies_to": {"conversation": True, "customer": True, "comment": False}, "color": None,
              "description": None, "usage": {"conversation": 2}, "version": 3, "created_at": "2026-01-01T00:00:00.000Z",
              "updated_at": "2026-01-02T00:00:00.000Z", "updated_by": "key", "aliases": ["Warm"]}
STORED_GROUP = {"id": "01JD0000000000000000000001", "name": "Sales", "name_slug": "sales", "description": None,
                "tag_count": 4, "version": 1, "created_at": "2026-01-01T00:00:00.000Z",
                "updated_at": "2026-01-01T00:00:00.000Z", "updated_by": "key"}


def test_a_tag_is_shown_as_its_model_says():
    shown = tags.present("acme", STORED_TAG)
    assert list(shown) == list(Tag.model_fields)
    assert Tag.model_validate(shown).model_dump(mode="json") == shown
    assert shown["usage"] == {"conversation": 2, "customer": 0, "comment": 0}


def test_a_group_is_shown_as_its_model_says():
    shown = groups.present("acme", STORED_GROUP)
    assert list(shown) == list(Group.model_fields)
    assert Group.model_validate(shown).model_dump(mode="json") == shown
