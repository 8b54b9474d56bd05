"""One OpenAPI document for the whole API, merged from the functions' own (Powertools) schemas.

Each function module's resolver knows its route, parameters and models; `build_spec()` asks every function the
template routes to, keeps the operations the template actually routes to it, and merges paths and components.
Powertools' 422 "Validation Error" responses are dropped (the service answers validation failures with 400 in
its error envelope) together with the schemas nothing refers to any more. What `tags_core.api.handler` does around
every resolver is added per operation: every POST takes an `Idempotency-Key` header (and may answer 409 for it;
any answer it stores may come back with `Idempotent-Replayed`), and every operation that documents 412 takes an
`If-Match` header. The response headers the routes refer to are declared once, in `components/headers`.

`python -m tags_tools.openapi` (`make openapi`) writes docs/openapi.json; `--check` fails when it is stale.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tags_core.domain.models import SHARED_SCHEMAS
from tags_core.http.idempotency import KEY_PATTERN
from tags_core.http.params import KIND_SCHEMA, KIND_SCHEMA_NAME
from tags_core.http.responses import HEADERS, header_refs
from tags_tools import template as tpl

__all__ = ["DEFAULT_OUTPUT", "TITLE", "api_version", "build_spec", "main", "render"]

TITLE = "Tags API"
DESCRIPTION = (
    "A multi-tenant API for tags, tag groups and the tags on objects. Authenticate with "
    "`Authorization: Bearer <api key>`; read keys may only GET. Errors use one envelope: "
    "`{status, description, response_time, request_id, errors: [{code, message, field?}]}`."
)
# Who answers questions about the API, and on what terms it is offered (Redocly's info-license, Spectral's
# info-contact): the service is not open source.
CONTACT = {"name": "Tags service maintainers (see README.md)"}
LICENSE = {"name": "Proprietary: for the service's tenants under their agreement",
           "identifier": "LicenseRef-Proprietary"}  # SPDX: a license of its own, not a listed one
TAG_DESCRIPTIONS = {
    "Tags": "Tags of a tenant: create (one or a batch), list and search, read, change, delete, merge.",
    "Tag groups": "Named groups that organise tags; a tag is in at most one group (or free-standing).",
    "Tags on objects": "The tags on conversations, customers and comments, and the objects carrying a tag.",
}
SECURITY_SCHEME = "bearerAuth"
DEFAULT_OUTPUT = tpl.ROOT / "docs" / "openapi.json"
DEFAULT_SERVERS: list[dict[str, Any]] = [
    {"url": "https://{apiId}.execute-api.{region}.amazonaws.com/v1", "description": "A deployed stack",
     "variables": {"apiId": {"default": "your-api-id"}, "region": {"default": "us-east-1"}}},
    {"url": "http://127.0.0.1:3000", "description": "tags-local"},
]
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_DROPPED_RESPONSES = {"422"}
_REF_PREFIX = "#/components/schemas/"
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes the POST safe to retry for 24 h: the same key and body replay the first response "
                   "(header `Idempotent-Replayed: true`); the same key with another body is a 409 "
                   "`idempotency_key_reused`, and while the first request runs a 409 `idempotency_key_in_use`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN.pattern},
}
IF_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-Match", "in": "header", "required": False,
    "description": 'The version the change applies to, as in the ETag: `"3"` (`W/"3"` and `3` are accepted, `*` '
                   "means any version). A stale version answers 412.",
    # What tags_core.api.if_match() accepts: surrounding blanks are trimmed, quotes are optional.
    "schema": {"type": "string", "pattern": r'^\s*(\*|(W/)?"*[0-9]{1,12}"*)\s*$'},
}


def api_version() -> str:
    """The project's version from pyproject.toml (else the installed distribution's, else 1.0.0)."""
    try:
        with open(tpl.ROOT / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("tags-service")
    except Exception:
        return "1.0.0"


def _ensure_import_environment() -> None:
    """Function modules may validate settings when imported; give them harmless values if none are set."""
    os.environ.setdefault("TABLE_NAME", "tags-openapi")
    os.environ.setdefault("CURSOR_SECRET", "openapi-generation-only-not-a-secret")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tags")


def _function_schema(module_name: str, version: str) -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_json_schema"):
        raise TypeError(f"{module_name} has no Powertools resolver named `app`")
    bearer = HTTPBearer(description="An API key: `Authorization: Bearer tk_...`. Read keys may only GET.",
                        bearerFormat="API key")
    text = app.get_openapi_json_schema(title=TITLE, version=version, security_schemes={SECURITY_SCHEME: bearer},
                                       security=[{SECURITY_SCHEME: []}])
    return dict(json.loads(text))


def _route_description(module_name: str) -> str | None:
    """An operation's description: its function module's docstring, without the leading `METHOD /path — `."""
    doc = " ".join((importlib.import_module(module_name).__doc__ or "").split())
    head, sep, tail = doc.partition(" — ")
    text = tail if sep and head.split(" ", 1)[0].isupper() else doc
    return text[:1].upper() + text[1:] if text else None


def _merge_named(target: dict[str, Any], source: Mapping[str, Any], what: str) -> None:
    for name, value in source.items():
        if name in target and target[name] != value:
            raise ValueError(f"two different definitions of {what} {name!r}")
        target[name] = value


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX):])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _reachable(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> set[str]:
    pending: set[str] = set()
    _refs(paths, pending)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        _refs(schemas[name], pending)
    return seen


def _shared_path_parameters(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every path parameter declared once, in components/parameters, and referred to by the operations: under its
    name, or, for a second definition of the same name, under `<operation id>_<name>`."""
    shared: dict[str, Any] = {}
    for operations in paths.values():
        for operation in operations.values():
            parameters = operation.get("parameters") or []
            for index, parameter in enumerate(parameters):
                if parameter.get("in") != "path":
                    continue
                key = parameter["name"]
                if shared.get(key, parameter) != parameter:
                    key = f"{operation['operationId']}_{key}"
                shared[key] = parameter
                parameters[index] = {"$ref": f"#/components/parameters/{key}"}
    return shared


def _not_nullable(parameter: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never null (a query string cannot say null): an optional
    parameter's `X | None` schema becomes X, keeping what was said of it (pattern, x-enum-varnames, ...)."""
    schema = parameter.get("schema") or {}
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if parameter.get("in") != "query" or len(branches) != 1 or len(schema["anyOf"]) != 2:
        return parameter
    merged = {**branches[0], **{k: v for k, v in schema.items() if k not in ("anyOf", "default")}}
    return {**parameter, "schema": merged}


def _with_handler_plumbing(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The headers tags_core.api.handler reads for every route, and the answers they bring."""
    parameters = [_not_nullable(p) for p in operation.get("parameters") or []]
    responses = dict(operation["responses"])
    if method == "post":
        parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        if "409" not in responses:
            responses["409"] = {**responses["400"], "description": "Conflict: Idempotency-Key reused or in use"}
        for code, response in responses.items():  # every stored answer can be replayed: all but 429 and 5xx
            if code != "429" and not code.startswith("5"):
                headers = {**response.get("headers", header_refs()), **header_refs("Idempotent-Replayed")}
                responses[code] = {**response, "headers": headers}
    if "412" in responses:
        parameters.append(IF_MATCH_PARAMETER)
    return {**operation, "parameters": parameters, "responses": responses} if parameters else operation


def build_spec(template: Mapping[str, Any] | None = None, *,
               servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The merged OpenAPI document of every routed function in the template."""
    _ensure_import_environment()
    the_template = dict(template) if template is not None else tpl.load_template()
    version = api_version()
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    security_schemes: dict[str, Any] = {}
    openapi_version = "3.1.0"
    operation_ids: dict[str, str] = {}
    for spec in tpl.functions(the_template).values():
        if not spec.routes:
            continue
        document = _function_schema(spec.module, version)
        described = _route_description(spec.module)
        openapi_version = str(document.get("openapi", openapi_version))
        routed = {(route.path, route.method.lower()) for route in spec.routes}
        for path, operations in (document.get("paths") or {}).items():
            for method, operation in operations.items():
                if method not in _HTTP_METHODS or (path, method) not in routed:
                    continue
                responses = {code: value for code, value in (operation.get("responses") or {}).items()
                             if code not in _DROPPED_RESPONSES}
                slot = paths.setdefault(path, {})
                if method in slot:
                    raise ValueError(f"{method.upper()} {path} is documented by two functions")
                operation_id = operation.get("operationId")
                if operation_id:
                    if operation_id in operation_ids:
                        raise ValueError(f"operationId {operation_id!r} used by {operation_ids[operation_id]} "
                                         f"and {spec.logical_id}")
                    operation_ids[operation_id] = spec.logical_id
                documented = {**operation, "responses": responses}
                if described and not documented.get("description"):
                    documented["description"] = described
                slot[method] = _with_handler_plumbing(method, documented)
        components = document.get("components") or {}
        _merge_named(schemas, components.get("schemas") or {}, "schema")
        _merge_named(security_schemes, components.get("securitySchemes") or {}, "security scheme")

    parameters = _shared_path_parameters(paths)
    schemas[KIND_SCHEMA_NAME] = KIND_SCHEMA  # the {kind} routes refer to it (tags_core.http.params.Kind)
    schemas.update(SHARED_SCHEMAS)  # the tag types (tags_core.domain.models)
    keep = _reachable({"paths": paths, "parameters": parameters}, schemas)
    tags = sorted({tag for operations in paths.values() for op in operations.values() for tag in op.get("tags", [])})
    return {
        "openapi": openapi_version,
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION, "contact": CONTACT,
                 "license": LICENSE},
        "servers": servers if servers is not None else DEFAULT_SERVERS,
        "tags": [{"name": tag, "description": TAG_DESCRIPTIONS[tag]} for tag in tags],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {"schemas": {name: schemas[name] for name in sorted(keep)},
                       "parameters": parameters, "headers": HEADERS, "securitySchemes": security_schemes},
        "security": [{SECURITY_SCHEME: []}],
    }


def render(spec: Mapping[str, Any]) -> str:
    """The document as written to docs/openapi.json and served by tags-local: in the resolver's own order (sorted
    keys would order a generated client's model fields differently from one made from the served document)."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tags_tools.openapi", description="Write the OpenAPI document.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="file to write (default docs/openapi.json)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    text = render(build_spec())
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            print(f"{output} is out of date; run `make openapi`", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
