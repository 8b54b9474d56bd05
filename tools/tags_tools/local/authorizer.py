"""The TOKEN authorizer's side of API Gateway: evaluating the policy it returns, checking its answer's shape, and
caching results per identity-source value."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["AuthorizerCache", "AuthorizerError", "as_list", "check_authorizer_result", "policy_allows"]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters (slashes included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def policy_allows(policy_document: Mapping[str, Any], arn: str) -> bool:
    """Does the policy let `execute-api:Invoke` on `arn`? An explicit Deny wins over any Allow."""
    allowed = False
    for statement in as_list(policy_document.get("Statement")):
        if not isinstance(statement, dict):
            continue
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if not any(_glob(action, "execute-api:Invoke", ignore_case=True) for action in actions):
            continue
        if not any(_glob(str(resource), arn) for resource in as_list(statement.get("Resource"))):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


class AuthorizerError(Exception):
    """The authorizer answered something API Gateway rejects (500 AUTHORIZER_CONFIGURATION_ERROR)."""


def check_authorizer_result(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict) or not result.get("principalId"):
        raise AuthorizerError("the authorizer's answer has no principalId")
    document = result.get("policyDocument")
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise AuthorizerError("the authorizer's answer has no policyDocument with statements")
    context = result.get("context") or {}
    if not isinstance(context, dict) or not all(
            isinstance(v, (str, int, float, bool)) for v in context.values()):
        raise AuthorizerError("authorizer context values must be strings, numbers or booleans")
    return result


class AuthorizerCache:
    """Authorizer results per identity-source value (hashed: keys are not kept in memory), for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> dict[str, Any] | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(self._key(token))
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1]

    def put(self, token: str, result: dict[str, Any]) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if len(self._entries) > 10_000:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[self._key(token)] = (now + self.ttl, result)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

