"""What the local gateway reads from template.yaml besides the routes: stage, CORS, the default authorizer's
identity source and cache time, gateway responses, and each function's memory, timeout and stream batch size."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tags_tools import template as tpl
from tags_tools.apigw_events import STAGE

__all__ = ["ApiSettings", "AuthSettings"]


def _unquote(value: Any) -> str:
    """SAM CORS values are quoted for API Gateway ("'*'")."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _api_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    apis = {name: res for name, res in template["Resources"].items()
            if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Api"}
    if not apis:
        return {}
    chosen = apis.get("TagsApi") or next(iter(apis.values()))
    return dict(chosen.get("Properties") or {})


@dataclass(frozen=True)
class AuthSettings:
    header: str = "Authorization"
    validation: re.Pattern[str] | None = None
    ttl: float = 300.0


@dataclass(frozen=True)
class ApiSettings:
    """What the gateway needs from the template besides the routes."""

    stage: str = STAGE
    cors: dict[str, str] | None = None  # preflight response headers, None when CORS is off
    auth: AuthSettings | None = None  # None: no default authorizer
    gateway_responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)  # function logical id -> MB
    timeout: dict[str, int] = field(default_factory=dict)  # function logical id -> seconds
    stream_consumers: dict[str, int] = field(default_factory=dict)  # function logical id -> batch size

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> ApiSettings:
        props = _api_properties(template)
        cors_value = props.get("Cors")
        cors: dict[str, str] | None = None
        if isinstance(cors_value, str):
            cors = {"Access-Control-Allow-Origin": _unquote(cors_value)}
        elif isinstance(cors_value, dict):
            names = {"AllowOrigin": "Access-Control-Allow-Origin", "AllowHeaders": "Access-Control-Allow-Headers",
                     "AllowMethods": "Access-Control-Allow-Methods", "MaxAge": "Access-Control-Max-Age",
                     "AllowCredentials": "Access-Control-Allow-Credentials"}
            cors = {header: _unquote(cors_value[key]) for key, header in names.items() if key in cors_value}
            if "Access-Control-Allow-Credentials" in cors:
                cors["Access-Control-Allow-Credentials"] = cors["Access-Control-Allow-Credentials"].lower()
        auth: AuthSettings | None = None
        auth_props = props.get("Auth") or {}
        default = auth_props.get("DefaultAuthorizer")
        config = (auth_props.get("Authorizers") or {}).get(default) if default else None
        if isinstance(config, dict):
            identity = config.get("Identity") or {}
            expression = identity.get("ValidationExpression")
            auth = AuthSettings(header=str(identity.get("Header", "Authorization")),
                                validation=re.compile(str(expression)) if expression else None,
                                ttl=float(identity.get("ReauthorizeEvery", 300)))
        specs = tpl.functions(dict(template)).values()  # Globals merged: memory, timeout, event sources
        return cls(stage=str(props.get("StageName", STAGE)), cors=cors, auth=auth,
                   gateway_responses=dict(props.get("GatewayResponses") or {}),
                   memory={spec.logical_id: spec.memory_size for spec in specs},
                   timeout={spec.logical_id: spec.timeout for spec in specs},
                   stream_consumers={spec.logical_id: spec.stream_batch_size for spec in specs
                                     if spec.stream_batch_size is not None})

