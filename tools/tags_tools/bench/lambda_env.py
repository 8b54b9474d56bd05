"""The functions' environment as on Lambda: the runtime's site directory, the environment variables, the context
object, and running a child interpreter to its end (the cold and memory phases)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.common import EVENT_BUS, MARK, REGION, ROOT, RUNTIME_ROOTS


def _requirement_names(path: Path) -> list[str]:
    names = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\s;<>=!~\[(]", line, maxsplit=1)[0])
    return names


def normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots: list[str] | tuple[str, ...]) -> set[str]:
    """Installed distributions that `roots` need (extras excluded), normalised names."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = normalized_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.distribution(name).requires or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    return seen


def lambda_site(workdir: Path) -> Path:
    """A directory with only what a function finds on Lambda besides its code and tags_core: the runtime's boto3
    and the layer's requirements (links to this venv's copies, same versions). The dev venv's extras (awscrt,
    pyOpenSSL, ... which botocore would pick up) are out of reach, as on Lambda."""
    site = workdir / "lambda-site"
    site.mkdir(exist_ok=True)
    for name in dependency_closure([*RUNTIME_ROOTS, *_requirement_names(ROOT / "layers/common/requirements.txt")]):
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            source = Path(str(dist.locate_file(top)))
            if top not in ("..", "__pycache__", "bin") and source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site


def _parameter_defaults() -> dict[str, str]:
    params = tpl.load_template().get("Parameters") or {}
    return {name: str(p["Default"]) for name, p in params.items() if isinstance(p, dict) and "Default" in p}


def function_environment(spec: tpl.FunctionSpec, *, table: str, endpoint: str, secret: str, memory: int,
                         site: Path | None = None) -> dict[str, str]:
    """The template's variables (intrinsics resolved to local stand-ins), Lambda's own, dummy credentials, every
    AWS endpoint pointing at moto. With `site`: PYTHONPATH as on Lambda (function, layer, runtime)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "LANG": "C.UTF-8", "TZ": ":UTC",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0", "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"tags-{spec.logical_id}", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/tags-{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "LAMBDA_TASK_ROOT": str(ROOT / spec.code_uri), "_HANDLER": f"app.{spec.handler}",
    }
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / spec.code_uri), str(ROOT / "layers" / "common"), str(site)])
    defaults = _parameter_defaults()
    stand_ins = {"TABLE_NAME": table, "CURSOR_SECRET": secret, "EVENT_BUS_NAME": EVENT_BUS}
    for name, value in spec.environment.items():
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            env[name] = str(value)
        elif isinstance(value, dict) and "Ref" in value and value["Ref"] in defaults:
            env[name] = defaults[value["Ref"]]
        else:
            env[name] = stand_ins.get(name, f"placeholder-{name.lower()}")
    env.update(TABLE_NAME=table, DYNAMODB_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL_EVENTBRIDGE=endpoint)
    return env


class Context:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory: int = 256) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]bench"
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def succeeded(result: Any) -> bool:
    """A 2xx answer, an Allow policy (authorizer) or no failed record (stream processor, command queue)."""
    if not isinstance(result, dict):
        return False
    if "statusCode" in result:
        return 200 <= int(result["statusCode"]) < 300
    if "policyDocument" in result:
        return True
    return result.get("batchItemFailures") == []



def run_child(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> tuple[dict[str, Any],
                                                                                                   float, float]:
    """Run a child to its end: (its last @@BENCH record, the parent's perf_counter at spawn, its CPU time in ms)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        spawned = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)  # noqa: S603
        while True:  # wait4 rather than Popen.wait: it also gives the child's CPU time
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - spawned > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise RuntimeError("child timed out")
            time.sleep(0.002)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        records = [line for line in out.read().splitlines() if line.startswith(MARK)]
        if proc.returncode != 0 or not records:
            raise RuntimeError(f"child failed ({proc.returncode}): {err.read().strip()[-600:]}")
    return json.loads(records[-1][len(MARK):]), spawned, (usage.ru_utime + usage.ru_stime) * 1000

