"""The layer's shape (issue 11): packages by layer with dependencies pointing one way, one home for the key scheme,
and size limits a newcomer can read. Read from the source with `ast`; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common"
PACKAGE = LAYER / "tags_core"
MODULES = sorted(PACKAGE.rglob("*.py"))
KEYS_MODULE = "tags_core.store.keys"

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60

# Spelled only in tags_core.store.keys: key prefixes, index names, and the item types (with the attribute that holds
# them). "tag", "group" and "tenant" are item types too, but also the API's object names and fields everywhere, so
# they are covered by `item_type` (where an item type is written or read) rather than checked as words.
KEY_MARKERS = ("T#", "GSI1", "GSI2", "GSI3")
ITEM_TYPE_NAMES = ("item_type", "api_key", "api_key_entry", "tag_name", "group_name", "tag_set", "reverse")

# What each layer must not import (a prefix of a module name). Shared modules at the top import no layer.
FORBIDDEN = {
    "tags_core.domain": ("tags_core.http", "tags_core.flows", "botocore", "boto3", "aws_lambda_powertools"),
    "tags_core.store": ("tags_core.http", "tags_core.domain", "tags_core.flows"),
    "tags_core.flows": ("tags_core.http",),
    "tags_core.http": ("tags_core.flows",),
    "tags_core": ("tags_core.http", "tags_core.domain", "tags_core.store", "tags_core.flows"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and (PACKAGE / parts[1]).is_dir() else "tags_core"


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def strings(path: Path) -> set[str]:
    return {node.value for node in ast.walk(tree(path))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_layer_has_its_packages():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()} == {
        "http", "domain", "store", "flows"}


@pytest.mark.parametrize("marker", KEY_MARKERS)
def test_key_markers_live_in_the_keys_module_only(marker):
    where = {module_name(p) for p in MODULES if any(marker in s for s in strings(p))}
    assert where == {KEYS_MODULE}


@pytest.mark.parametrize("name", ITEM_TYPE_NAMES)
def test_item_types_live_in_the_keys_module_only(name):
    where = {module_name(p) for p in MODULES if name in strings(p)}
    assert where == {KEYS_MODULE}


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_dependencies_point_one_way(path):
    name = module_name(path)
    forbidden = FORBIDDEN[layer_of(name)]
    wrong = sorted(i for i in imports(path) if i.startswith(forbidden))
    assert not wrong, f"{name} imports {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_sizes(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module_name(path)}: {lines} lines"
    for node in ast.walk(tree(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            assert size <= limit, f"{module_name(path)}.{node.name}: {size} lines (at most {limit})"
