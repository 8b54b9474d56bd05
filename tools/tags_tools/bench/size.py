"""Size: the layer and each function as `sam build` makes them, unzipped, without what Lambda's runtime provides."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tags_tools import template as tpl
from tags_tools.bench.common import ROOT, RUNTIME_ROOTS, log
from tags_tools.bench.lambda_env import dependency_closure, normalized_name


@dataclass
class SizeResult:
    how: str
    layer_total: int = 0
    layer_counted: int = 0
    excluded: list[tuple[str, int]] = field(default_factory=list)  # (distribution, bytes) the runtime provides
    packages: list[tuple[str, int]] = field(default_factory=list)  # (distribution or entry, bytes), largest first
    functions: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def largest_deploy(self) -> int:
        return self.layer_counted + max(self.functions.values(), default=0)


def _tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def start_build() -> subprocess.Popen[str] | None:
    """`sam build` (scripts/sam_build.sh) in the background unless .aws-sam/build is newer than the sources."""
    build_dir = ROOT / ".aws-sam" / "build"
    marker = build_dir / "template.yaml"
    sources = [ROOT / "template.yaml", *(p for base in ("layers", "functions") for p in (ROOT / base).rglob("*")
                                         if p.is_file() and "__pycache__" not in p.parts)]
    if marker.is_file() and marker.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return None
    log("size: sam build (scripts/sam_build.sh) in the background")
    sam = ROOT / ".venv" / "bin" / "sam"
    env = {**os.environ, **({"SAM": str(sam)} if sam.exists() else {})}
    return subprocess.Popen([str(ROOT / "scripts" / "sam_build.sh")], cwd=ROOT, env=env, text=True,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def size_phase(specs: dict[str, tpl.FunctionSpec], build: subprocess.Popen[str] | None) -> SizeResult:
    how = "the existing .aws-sam/build (newer than the sources)"
    if build is not None:
        output, _ = build.communicate(timeout=600)
        if build.returncode != 0:
            return SizeResult("", error=f"sam build failed: {output.strip()[-600:]}")
        how = "`scripts/sam_build.sh` run by the benchmark"
    build_dir = ROOT / ".aws-sam" / "build"
    layer = build_dir / "CommonLayer"
    python_dir = layer / "python" if (layer / "python").is_dir() else layer
    owners: dict[str, str] = {}  # top-level entry -> distribution
    for info in python_dir.glob("*.dist-info"):
        name = re.search(r"^Name: (.+)$", (info / "METADATA").read_text(errors="replace"), re.MULTILINE)
        dist = normalized_name(name.group(1).strip() if name else info.name.split("-")[0])
        owners[info.name] = dist
        for line in (info / "RECORD").read_text(errors="replace").splitlines() if (info / "RECORD").exists() else []:
            top = line.split(",", 1)[0].split("/", 1)[0]
            if top and top != "..":
                owners.setdefault(top, dist)
    sizes: Counter[str] = Counter()
    for entry in layer.rglob("*"):
        if entry.is_file() or entry.is_symlink():
            relative = entry.relative_to(python_dir) if python_dir in entry.parents else entry.relative_to(layer)
            sizes[owners.get(relative.parts[0], relative.parts[0])] += entry.lstat().st_size
    runtime = dependency_closure(RUNTIME_ROOTS)
    excluded = sorted(((d, s) for d, s in sizes.items() if d in runtime), key=lambda x: -x[1])
    packages = sorted(((d, s) for d, s in sizes.items() if d not in runtime), key=lambda x: -x[1])
    functions = {logical_id: _tree_size(build_dir / logical_id) for logical_id in specs
                 if (build_dir / logical_id).is_dir()}
    total = sum(sizes.values())
    return SizeResult(how, total, total - sum(s for _, s in excluded), excluded, packages, functions)

