"""schemathesis over HTTP: a tags-local of its own, every operation of the /openapi.json it serves, every check
(no 5xx, status codes and content types documented, responses conform to their schemas, schema-valid input
accepted and invalid input refused, auth not ignored, stateful sequences through the API's links...).

Authenticated with the demo write key tags-local seeds. Bounded by tests/infra/schemathesis.toml (max-examples per
operation, fixed seed: the same cases every run; SCHEMATHESIS_SEED=<n> explores others, SCHEMATHESIS_MAX_EXAMPLES=<n>
more or fewer). On failure the report names each case with a curl line to reproduce it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tags_tools import template as tpl

CONFIG = Path(__file__).with_name("schemathesis.toml")
TIME_BUDGET_SECONDS = 240.0



def test_schemathesis_finds_nothing_on_any_operation(spawn_tags_local: Any, tmp_path: Path) -> None:
    client, _ = spawn_tags_local("--port", "0", "--authorizer-ttl", "0", "--quiet")  # a free port: runs side by side
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run",
               f"{client.url}/openapi.json", "--checks", "all", "--output-truncate", "false"]
    if os.environ.get("SCHEMATHESIS_SEED"):
        command += ["--seed", os.environ["SCHEMATHESIS_SEED"]]
    if os.environ.get("SCHEMATHESIS_MAX_EXAMPLES"):
        command += ["--max-examples", os.environ["SCHEMATHESIS_MAX_EXAMPLES"]]
    environment = {**os.environ, "TAGS_API_KEY": client.api_key, "NO_COLOR": "1", "COLUMNS": "120"}
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True,
                         timeout=TIME_BUDGET_SECONDS, check=False)
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    assert client.api_key not in output, "schemathesis printed the key"
    report = f"schemathesis exited {run.returncode} after {elapsed:.0f} s:\n{output[-20000:]}"
    assert run.returncode == 0, report

    operations = {(r.method, r.path) for r in tpl.api_routes()}
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert selected and int(selected.group(1)) == int(selected.group(2)) == len(operations), report
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested is None or int(tested.group(1)) == len(operations), report
    assert "Server error" not in output, report
