"""Ids (tags_core.ids), no HTTP and no table: ULIDs of 26 Crockford base32 characters, sortable by creation time."""

from __future__ import annotations

from tags_core.ids import looks_like_id, new_id
from tests.helpers import ULID


def test_an_id_is_a_ulid() -> None:
    made = new_id()
    assert ULID.match(made) and looks_like_id(made)


def test_ids_sort_by_their_millisecond() -> None:
    assert new_id(1_000) < new_id(1_001) < new_id(2**40)


def test_ids_of_one_millisecond_differ() -> None:
    assert len({new_id(1_000) for _ in range(1_000)}) == 1_000


def test_what_does_not_look_like_an_id() -> None:
    assert not looks_like_id("01ARZ3NDEKTSV4RRFFQ69G5FA")  # 25 characters
    assert not looks_like_id("01ARZ3NDEKTSV4RRFFQ69G5FAU")  # U is not in the alphabet
    assert not looks_like_id("01arz3ndektsv4rrffq69g5fav")  # lowercase
