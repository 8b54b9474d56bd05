"""Name rules shared by tags and groups: normalisation, the uniqueness key and the slug."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_NAME_LENGTH = 255
# Unicode White_Space: str.isspace() also counts the C0 information separators U+001C-U+001F, which are control
# characters and must be refused, not folded into a space.
_WHITESPACE_RUN = re.compile(r"[^\S\x1c-\x1f]+")


class NameTooLong(ValueError):
    """The name is longer than MAX_NAME_LENGTH characters after normalisation."""


def normalize_name(raw: str) -> str:
    """Trim, fold inner whitespace runs to one space, NFC. Raises ValueError on a name that breaks the rules."""
    name = unicodedata.normalize("NFC", _WHITESPACE_RUN.sub(" ", raw).strip())
    if not name:
        raise ValueError("must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise NameTooLong(f"must be at most {MAX_NAME_LENGTH} characters after normalisation")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\u200d" for ch in name):
        raise ValueError("must not contain control or unassigned characters")
    return name


def name_key(name: str) -> str:
    """The key two names are compared by: case-insensitive (casefold) after NFC."""
    return unicodedata.normalize("NFC", name.casefold())


def name_lock_suffix(name: str) -> str:
    """A fixed-length form of the name key, small enough for a DynamoDB key whatever the name."""
    return hashlib.sha256(name_key(name).encode()).hexdigest()


def sort_key(name: str, tie_breaker: str) -> str:
    """Index sort key: the name key (cut to stay well under DynamoDB's 1 KiB key limit), then the id."""
    key = name_key(name).encode()[:800].decode(errors="ignore")
    return f"{key}\x00{tie_breaker}"


def slugify(name: str) -> str:
    """Lowercase and URL-safe; letters with an ASCII form become ASCII, other letters are kept."""
    out: list[str] = []
    for ch in name.casefold():
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base.isascii() and base.isalnum():
            out.append(base)
        elif ch.isalnum():
            out.append(ch)
        elif unicodedata.category(ch) in ("Mn", "Mc"):
            if out and not out[-1].isascii():
                out.append(ch)  # vowel signs and other marks of non-Latin scripts stay with their letter
            # else: the mark of a letter that already has its ASCII form (casefolded 'İ' is 'i' + U+0307)
        else:
            out.append("-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    if not slug:  # emoji or symbols only: spell the code points
        slug = "-".join(f"u{ord(ch):x}" for ch in name if not ch.isspace())
    return slug
