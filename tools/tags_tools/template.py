"""A reader of template.yaml, the single source of truth for routes, functions, permissions and the table.

The local server and the tests take everything they need to mirror the deployed service from here:
which module handles which route, each function's environment, memory, timeout and IAM actions, the authorizer,
and the table's keys and indexes (as `create_table` arguments).

A function is described as SAM deploys it: its properties are merged with `Globals: Function` the way SAM merges
them, and its policy statements include those of the managed policies the template defines and it attaches.

Values are returned raw: CloudFormation intrinsics stay as `{"Ref": ...}`, `{"Fn::GetAtt": [...]}`,
`{"Fn::Sub": ...}` dicts; the caller decides what they stand for locally.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ROOT",
    "TEMPLATE_PATH",
    "FunctionSpec",
    "Route",
    "api_routes",
    "authorizer",
    "functions",
    "load_template",
    "merge_globals",
    "table_definition",
    "table_ttl_attribute",
]

FUNCTION_TYPE = "AWS::Serverless::Function"
MANAGED_POLICY_TYPE = "AWS::IAM::ManagedPolicy"
API_TYPE = "AWS::Serverless::Api"
TABLE_TYPE = "AWS::DynamoDB::Table"


def _find_root() -> Path:
    """The repository root: $TAGS_PROJECT_ROOT, else this file's checkout, else the nearest parent of the cwd."""
    explicit = os.environ.get("TAGS_PROJECT_ROOT")
    if explicit:
        return Path(explicit).resolve()
    here = Path(__file__).resolve().parents[2]  # tools/tags_tools/template.py -> repo root
    if (here / "template.yaml").is_file():
        return here
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "template.yaml").is_file():
            return candidate
    return here


ROOT: Path = _find_root()
TEMPLATE_PATH: Path = ROOT / "template.yaml"


# --- YAML with CloudFormation short tags -----------------------------------------------------------------------

class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands `!Ref`, `!GetAtt`, `!Sub`, ... and, like CloudFormation, keeps dates as strings."""


_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - YAML has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


@functools.lru_cache(maxsize=8)
def _parse(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise ValueError(f"{path} is not a CloudFormation template (no Resources mapping)")
    return document


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The template as plain data, Globals not merged. Parsed once per file version; each call gets its own copy."""
    target = Path(path) if path is not None else TEMPLATE_PATH
    stat = target.stat()
    return copy.deepcopy(_parse(str(target.resolve()), stat.st_mtime_ns, stat.st_size))


# --- functions and routes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str  # "GET"
    path: str  # "/tags/{tag_id}"
    function: str  # logical id of the function that serves it


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str  # "functions.get_tag.app"
    handler: str  # "lambda_handler"
    environment: dict[str, Any] = field(hash=False)  # raw; Globals merged with the function's own
    routes: tuple[Route, ...]
    actions: frozenset[str]  # IAM actions its policy statements allow, e.g. {"dynamodb:GetItem"}
    resources: tuple[Any, ...] = field(hash=False)  # raw Resource entries of those statements
    code_uri: str = ""  # "functions/get_tag" (relative to ROOT, no trailing slash)
    # Its Properties with Globals merged, as SAM deploys it (raw intrinsics).
    properties: dict[str, Any] = field(default_factory=dict, hash=False)
    # Every policy statement it gets: inline ones and those of the template's managed policies it attaches.
    statements: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    managed_policies: tuple[str, ...] = ()  # logical ids of the template's AWS::IAM::ManagedPolicy it attaches
    memory_size: int = 128  # MB (Lambda's default when neither the function nor Globals sets it)
    timeout: int = 3  # seconds (idem)
    stream_batch_size: int | None = None  # BatchSize of its DynamoDB stream event; None: no stream event


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items()
            if isinstance(res, dict) and res.get("Type") == resource_type}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return key in ("Ref", "Condition") or str(key).startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's merge of a Globals value with a resource's own: maps merge key by key (the resource wins), lists add
    up (Globals first), anything else (scalars, intrinsics) is the resource's."""
    if isinstance(global_value, dict) and isinstance(local_value, dict) and not (
            _is_intrinsic(global_value) or _is_intrinsic(local_value)):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _policy_statements(policies: Any, template: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The statements of a SAM `Policies` value: inline documents and `!Ref`s of the template's own managed
    policies (whose logical ids come second). AWS managed policies and SAM policy templates carry none here."""
    statements: list[dict[str, Any]] = []
    managed: list[str] = []
    for policy in _as_list(policies):
        if isinstance(policy, dict) and "Statement" in policy:
            document: Any = policy
        elif isinstance(policy, dict) and set(policy) == {"Ref"}:
            resource = template["Resources"].get(policy["Ref"])
            if not isinstance(resource, dict) or resource.get("Type") != MANAGED_POLICY_TYPE:
                continue
            managed.append(str(policy["Ref"]))
            document = (resource.get("Properties") or {}).get("PolicyDocument") or {}
        else:
            continue
        statements.extend(s for s in _as_list(document.get("Statement")) if isinstance(s, dict))
    return statements, managed


def _function_spec(logical_id: str, resource: dict[str, Any], globals_: dict[str, Any],
                   template: dict[str, Any]) -> FunctionSpec:
    props: dict[str, Any] = merge_globals(copy.deepcopy(globals_), copy.deepcopy(resource.get("Properties") or {}))

    code_uri = props.get("CodeUri")
    handler_ref = props.get("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler_ref, str) or "." not in handler_ref:
        raise ValueError(f"{logical_id}: needs a local CodeUri directory and a 'module.function' Handler")
    code_dir = code_uri.strip().strip("/").removeprefix("./")
    handler_module, handler = handler_ref.rsplit(".", 1)
    module = ".".join([*filter(None, code_dir.split("/")), handler_module])

    environment = (props.get("Environment") or {}).get("Variables") or {}

    routes = []
    stream_batch_size: int | None = None
    for event in (props.get("Events") or {}).values():
        if not isinstance(event, dict):
            continue
        event_props = event.get("Properties") or {}
        if event.get("Type") == "Api":
            routes.append(Route(method=str(event_props["Method"]).upper(), path=str(event_props["Path"]),
                                function=logical_id))
        elif event.get("Type") == "DynamoDB" and stream_batch_size is None:
            stream_batch_size = int(event_props.get("BatchSize", 100))

    statements, managed = _policy_statements(props.get("Policies"), template)
    allowed = [statement for statement in statements if statement.get("Effect") == "Allow"]
    actions = {str(a) for statement in allowed for a in _as_list(statement.get("Action"))}
    resources = [r for statement in allowed for r in _as_list(statement.get("Resource"))]

    return FunctionSpec(
        logical_id=logical_id, module=module, handler=handler, environment=copy.deepcopy(environment),
        routes=tuple(routes), actions=frozenset(actions), resources=tuple(copy.deepcopy(resources)),
        code_uri=code_dir, properties=props, statements=tuple(copy.deepcopy(statements)),
        managed_policies=tuple(managed), memory_size=int(props.get("MemorySize", 128)),
        timeout=int(props.get("Timeout", 3)), stream_batch_size=stream_batch_size,
    )


def functions(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function by logical id, in template order (the authorizer included, without routes)."""
    template = template if template is not None else load_template()
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    return {name: _function_spec(name, res, globals_, template)
            for name, res in _resources(template, FUNCTION_TYPE).items()}


_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"))}


def api_routes(template: dict[str, Any] | None = None) -> list[Route]:
    """Every Api event of every function, sorted by path then method."""
    routes = [route for spec in functions(template).values() for route in spec.routes]
    return sorted(routes, key=lambda r: (r.path, _METHOD_ORDER.get(r.method, len(_METHOD_ORDER)), r.method))


def _logical_id_of_arn(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            parts = target.split(".", 1) if isinstance(target, str) else list(target)
            return str(parts[0]) if parts else None
        if "Ref" in value:
            return str(value["Ref"])
    return None


def authorizer(template: dict[str, Any] | None = None) -> FunctionSpec:
    """The function behind the API's default authorizer."""
    template = template if template is not None else load_template()
    apis = _resources(template, API_TYPE)
    for api in sorted(apis.values(), key=lambda a: a is not apis.get("TagsApi")):
        auth = (api.get("Properties") or {}).get("Auth") or {}
        name = auth.get("DefaultAuthorizer")
        config = (auth.get("Authorizers") or {}).get(name) if name else None
        logical_id = _logical_id_of_arn((config or {}).get("FunctionArn"))
        if logical_id:
            specs = functions(template)
            if logical_id not in specs:
                raise LookupError(f"authorizer {name!r} points at {logical_id!r}, which is not a function")
            return specs[logical_id]
    raise LookupError("no API in the template has a Lambda DefaultAuthorizer")


# --- the table -------------------------------------------------------------------------------------------------

def _table_properties(template: dict[str, Any] | None) -> dict[str, Any]:
    template = template if template is not None else load_template()
    tables = _resources(template, TABLE_TYPE)
    table = tables.get("TagsTable") or (next(iter(tables.values())) if len(tables) == 1 else None)
    if table is None:
        raise LookupError(f"expected one DynamoDB table (or one named TagsTable), found {sorted(tables)}")
    return copy.deepcopy(table.get("Properties") or {})


def _index(definition: dict[str, Any], provisioned: bool) -> dict[str, Any]:
    index: dict[str, Any] = {key: definition[key] for key in ("IndexName", "KeySchema", "Projection")
                             if key in definition}
    if provisioned and "ProvisionedThroughput" in definition:
        index["ProvisionedThroughput"] = definition["ProvisionedThroughput"]
    return index


def table_definition(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for boto3's `dynamodb.create_table` (all but TableName), from the template's table."""
    props = _table_properties(template)
    billing = props.get("BillingMode", "PROVISIONED")
    provisioned = billing == "PROVISIONED"
    definition: dict[str, Any] = {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if provisioned and "ProvisionedThroughput" in props:
        definition["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            definition[kind] = [_index(index, provisioned and kind == "GlobalSecondaryIndexes")
                                for index in props[kind]]
    stream = props.get("StreamSpecification") or {}
    if stream.get("StreamViewType"):
        definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return definition


def table_ttl_attribute(template: dict[str, Any] | None = None) -> str | None:
    """The table's time-to-live attribute, or None when TTL is not enabled."""
    ttl = _table_properties(template).get("TimeToLiveSpecification") or {}
    return str(ttl["AttributeName"]) if ttl.get("Enabled") and ttl.get("AttributeName") else None
