"""Name rules (tags_core.names), no HTTP and no table: normalisation, the uniqueness key, the name lock's key, the
index sort key and the slug. The same rules as a client sees them: tests/api/test_tags_create.py."""

from __future__ import annotations

import unicodedata

import pytest

from tags_core.names import MAX_NAME_LENGTH, NameTooLong, name_key, name_lock_suffix, normalize_name, slugify, sort_key
from tests.helpers import spellings


def test_spellings_are_distinct_and_name_one_tag() -> None:
    names = spellings("Café Crème Brûlée", 32)
    assert len(set(names)) == 32
    assert len({name_key(normalize_name(n)) for n in names}) == 1
    assert any(unicodedata.is_normalized("NFD", n) and not unicodedata.is_normalized("NFC", n) for n in names)



@pytest.mark.parametrize(("raw", "stored"), [
    ("  Hot Lead  ", "Hot Lead"),
    ("Hot \t\n  Lead", "Hot Lead"),
    ("Hot\u00a0\u3000Lead", "Hot Lead"),
    ("Cafe\u0301", "Caf\u00e9"),
])
def test_normalize_trims_folds_whitespace_and_composes(raw: str, stored: str) -> None:
    assert normalize_name(raw) == stored
    assert unicodedata.is_normalized("NFC", normalize_name(raw))


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_an_empty_name_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        normalize_name(raw)


def test_the_length_limit_counts_characters_after_composition() -> None:
    assert normalize_name("e\u0301" * MAX_NAME_LENGTH) == "\u00e9" * MAX_NAME_LENGTH
    with pytest.raises(NameTooLong):
        normalize_name("x" * (MAX_NAME_LENGTH + 1))


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1c", "\x1f", "\x7f", "\u200b", "\ue000"])
def test_control_format_and_private_characters_are_refused(char: str) -> None:
    with pytest.raises(ValueError, match="control"):
        normalize_name(f"a{char}b")


def test_a_zero_width_joiner_is_kept() -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
    assert normalize_name(family) == family


@pytest.mark.parametrize(("first", "second"), [("Hot Lead", "HOT LEAD"), ("Straße", "STRASSE"), ("Café", "CAF\u00c9")])
def test_names_that_differ_by_case_share_one_key_and_one_lock(first: str, second: str) -> None:
    assert name_key(first) == name_key(second)
    assert name_lock_suffix(first) == name_lock_suffix(second)
    assert len(name_lock_suffix(first)) == 64


def test_names_that_differ_beyond_case_have_different_keys() -> None:
    assert name_key("Hot Lead") != name_key("Hot-Lead")
    assert name_lock_suffix("Hot Lead") != name_lock_suffix("Hot-Lead")


def test_the_sort_key_orders_by_name_key_then_id_and_stays_short() -> None:
    assert sort_key("b", "1") > sort_key("A", "2") > sort_key("a", "1")
    assert len(sort_key("\u00e9" * MAX_NAME_LENGTH * 2, "01ID").encode()) < 1024


@pytest.mark.parametrize(("name", "slug"), [
    ("Hot Lead", "hot-lead"),
    ("Café Crème", "cafe-creme"),
    ("  Big  Deal!! ", "big-deal"),
    ("Straße", "strasse"),
    ("Привет мир", "привет-мир"),
    ("Version 2.0", "version-2-0"),
    ("\U0001f680", "u1f680"),
])
def test_slugs_are_lowercase_and_url_safe(name: str, slug: str) -> None:
    assert slugify(name) == slug
