"""tags-admin against a DynamoDB endpoint (the local API's moto server): keys it issues work, revoked ones do not."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from tags_core.domain.identity import Principal, resolve_token
from tags_core.errors import Unauthenticated
from tags_tools import admin
from tags_tools import template as tpl

KEY = re.compile(r"tk_[0-9a-z]{26}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def cli(local_api: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    """cli(*args) -> (exit code, stdout, stderr) of tags-admin pointed at the local API's table."""

    def run(*args: str) -> tuple[int, str, str]:
        code = admin.main(["--endpoint-url", local_api.dynamodb_endpoint, "--table", local_api.table_name, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _tenant(cli: Any) -> str:
    code, out, _ = cli("create-tenant", "Admin Test Co")
    assert code == 0
    return out.strip()


def test_create_tenant_prints_its_id(cli: Any) -> None:
    code, out, err = cli("create-tenant", "Admin Test Co")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"admin-test-co-[0-9a-f]{6}\n", out)
    code, out, _ = cli("create-tenant", "Explicit", "--id", f"explicit-{os.getpid()}")
    assert (code, out) == (0, f"explicit-{os.getpid()}\n")


def test_a_created_key_resolves_to_its_tenant_and_role_and_works_over_http(cli: Any, local_api: Any) -> None:
    tenant = _tenant(cli)
    code, out, _ = cli("create-key", tenant, "--role", "read", "--label", "dashboard")
    assert code == 0
    key = KEY.search(out)
    key_id = re.search(r"key_id:\s+(\S+)", out)
    assert key and key_id
    assert "not be shown again" in out
    with local_api.pointing_here():
        principal = resolve_token(f"Bearer {key.group(0)}")  # what the authorizer does with it
    assert principal == Principal(tenant=tenant, role="read", key_id=key_id.group(1))
    assert local_api.request("GET", "/tags", key=key.group(0)).status == 200
    assert local_api.request("POST", "/tags", json={"name": "x"}, key=key.group(0)).status == 403


def test_list_keys_shows_the_keys_but_never_the_secret(cli: Any) -> None:
    tenant = _tenant(cli)
    issued = []
    for role in ("write", "read"):
        _, out, _ = cli("--json", "create-key", tenant, "--role", role, "--label", f"{role} key")
        issued.append(json.loads(out))
    code, out, _ = cli("list-keys", tenant)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["KEY", "ID", "ROLE", "LABEL", "CREATED", "REVOKED"]
    for key in issued:
        row = next(line for line in lines if key["key_id"] in line)
        assert key["role"] in row and f"{key['role']} key" in row
        assert key["key"] not in out
        assert hashlib.sha256(key["key"].encode()).hexdigest() not in out
        assert key["key"].split("_", 2)[2] not in out  # the secret (it may itself hold "_")
    code, out, _ = cli("--json", "list-keys", tenant)
    listed = json.loads(out)
    assert {k["key_id"] for k in listed} == {k["key_id"] for k in issued}
    assert all(set(k) == {"key_id", "role", "label", "created_at", "revoked_at"} for k in listed)


def test_revoke_key_makes_it_fail(cli: Any, local_api: Any) -> None:
    tenant = _tenant(cli)
    _, out, _ = cli("--json", "create-key", tenant, "--role", "write")
    issued = json.loads(out)
    assert local_api.request("GET", "/tags", key=issued["key"]).status == 200
    code, out, _ = cli("revoke-key", tenant, issued["key_id"])
    assert (code, out) == (0, f"revoked {issued['key_id']}\n")
    with local_api.pointing_here(), pytest.raises(Unauthenticated):
        resolve_token(f"Bearer {issued['key']}")
    assert local_api.request("GET", "/tags", key=issued["key"]).status == 401
    _, out, _ = cli("--json", "list-keys", tenant)
    assert json.loads(out)[0]["revoked_at"]


@pytest.mark.parametrize("args", [
    ("create-key", "no-such-tenant", "--role", "write"),
    ("revoke-key", "no-such-tenant", "01NOKEY"),
    ("create-tenant", "Bad", "--id", "NOT VALID!"),
])
def test_domain_errors_are_a_message_and_exit_1(cli: Any, args: tuple[str, ...]) -> None:
    code, out, err = cli(*args)
    assert code == 1
    assert out == ""
    assert err.startswith("tags-admin: ") and "Traceback" not in err


def test_existing_tenant_is_refused(cli: Any) -> None:
    tenant = _tenant(cli)
    code, _, err = cli("create-tenant", "Again", "--id", tenant)
    assert code == 1
    assert "already exists" in err


def test_missing_table_is_reported_not_raised(cli: Any) -> None:
    code, _, err = cli("--table", "no-such-table", "list-keys", "acme")
    assert code == 1
    assert "ResourceNotFoundException" in err


def test_role_is_required_and_checked(cli: Any) -> None:
    with pytest.raises(SystemExit) as caught:
        cli("create-key", "acme", "--role", "admin")
    assert caught.value.code == 2


def test_environment_provides_the_defaults_and_is_left_as_it_was(local_api: Any, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TABLE_NAME", local_api.table_name)
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", local_api.dynamodb_endpoint)
    before = dict(os.environ)
    assert admin.main(["create-tenant", "From Env"]) == 0
    assert capsys.readouterr().out.startswith("from-env-")
    assert dict(os.environ) == before


def test_the_module_runs_as_a_program(local_api: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env["PYTHONPATH"] = os.pathsep.join(str(tpl.ROOT / p) for p in ("layers/common", "tools", "."))
    env.update(TABLE_NAME=local_api.table_name, DYNAMODB_ENDPOINT_URL=local_api.dynamodb_endpoint)
    completed = subprocess.run([sys.executable, "-m", "tags_tools.admin", "create-tenant", "Subprocess Co"],
                               capture_output=True, text=True, env=env, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("subprocess-co-")
