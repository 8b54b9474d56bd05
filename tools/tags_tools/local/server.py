"""The local API as a running thing: the WSGI application (the docs endpoints, `GET /_local/status`, then the
gateway), the functions' environment, the table, the demo tenant, and `start_local_api` that starts DynamoDB
(embedded unless given an endpoint), the table-stream consumers and the HTTP server in background threads.

Also served, without auth: `GET /openapi.json` (the merged OpenAPI document), Swagger UI at `GET /docs`, and
`GET /_local/status` (the stream consumers' progress and the embedded DynamoDB's counters, for `make soak`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tags_tools import template as tpl
from tags_tools.apigw_events import REGION
from tags_tools.local import moto_fixes
from tags_tools.local.dynamodb import EmbeddedDynamoDB
from tags_tools.local.gateway import JSON_TYPE, MAX_GATEWAY_BODY, Gateway, GatewayRequest
from tags_tools.local.http11 import KeepAliveServer
from tags_tools.local.invokers import InProcessInvoker, Invoker, ProcessPoolInvoker

__all__ = ["DEFAULT_TABLE", "DEFAULT_WORKERS", "LocalApi", "LocalServer", "configure_environment", "ensure_table",
           "seed_demo_tenant", "start_local_api"]

logger = logging.getLogger(__name__)

DEFAULT_TABLE = "tags-local"
DEFAULT_WORKERS = 5  # four API requests at once, and one worker always free for the stream and queue consumers
DEMO_TENANT = "demo"
STATUS_PATH = "/_local/status"  # the stream consumers' progress and the embedded DynamoDB's counters


# --- the WSGI application --------------------------------------------------------------------------------------

_SWAGGER_ASSETS = {"swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript"),
                   "swagger-ui.css": ("swagger-ui.min.css", "text/css")}
_SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tags API</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui">Loading...</div>
  <script src="{js}"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
                                 persistAuthorization: true, docExpansion: "list"}});
  </script>
</body>
</html>
"""


def _swagger_asset(name: str) -> bytes | None:
    try:
        package = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
        return (package / name).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return None


class LocalServer:
    """The WSGI application: docs endpoints, then the gateway."""

    def __init__(self, gateway: Gateway, *, base_url: str = "") -> None:
        self.gateway = gateway
        self.base_url = base_url
        self._spec: bytes | None = None
        self._spec_lock = threading.Lock()
        self.status: Callable[[], dict[str, Any]] | None = None  # what GET /_local/status answers

    def openapi_json(self) -> bytes:
        with self._spec_lock:
            if self._spec is None:
                from tags_tools.openapi import build_spec, render  # noqa: PLC0415 - imports every function module

                servers = [{"url": self.base_url, "description": "This local server"}] if self.base_url else None
                self._spec = render(build_spec(self.gateway.template, servers=servers)).encode()
            return self._spec

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from werkzeug.wrappers import Request, Response  # noqa: PLC0415

        started = time.monotonic()
        request = Request(environ)
        response = self._docs(request)
        if response is None:
            raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
            path = raw_uri.split("?", 1)[0] if raw_uri.startswith("/") else quote(request.path)
            if (request.content_length or 0) > MAX_GATEWAY_BODY:
                answer = self.gateway.gateway_error("REQUEST_TOO_LARGE", str(uuid.uuid4()))
            else:
                body = request.get_data(cache=False)
                answer = self.gateway.handle(GatewayRequest(
                    method=request.method, path=path, query=list(request.args.items(multi=True)),
                    headers=list(request.headers.items()), body=body or None,
                    source_ip=request.remote_addr or "127.0.0.1"))
            response = Response(answer.body, status=answer.status, headers=answer.headers)
            if answer.header("Content-Type") is None:
                del response.headers["Content-Type"]  # not werkzeug's text/plain default
            logger.info("%s %s -> %s (%.0f ms, request %s)", request.method, request.full_path.rstrip("?"),
                        answer.status, (time.monotonic() - started) * 1000, answer.header("X-Request-Id") or "-")
        return response(environ, start_response)

    def _docs(self, request: Any) -> Any:
        from werkzeug.wrappers import Response  # noqa: PLC0415

        if request.method not in ("GET", "HEAD"):
            return None
        if request.path == "/openapi.json":
            return Response(self.openapi_json(), mimetype=JSON_TYPE)
        if request.path == STATUS_PATH and self.status is not None:
            return Response(json.dumps(self.status()), mimetype=JSON_TYPE, headers={"Cache-Control": "no-store"})
        if request.path in ("/docs", "/docs/"):
            local = all(_swagger_asset(file) is not None for file, _ in _SWAGGER_ASSETS.values())
            base = "/docs" if local else _SWAGGER_CDN
            page = _DOCS_PAGE.format(css=f"{base}/swagger-ui.css", js=f"{base}/swagger-ui-bundle.js",
                                     spec="/openapi.json")
            return Response(page, mimetype="text/html")
        name = request.path.removeprefix("/docs/")
        if request.path.startswith("/docs/") and name in _SWAGGER_ASSETS:
            file, mimetype = _SWAGGER_ASSETS[name]
            content = _swagger_asset(file)
            if content is not None:
                return Response(content, mimetype=mimetype, headers={"Cache-Control": "max-age=3600"})
        return None


# --- environment, DynamoDB, seeding ----------------------------------------------------------------------------

def configure_environment(table_name: str, endpoint_url: str | None, *, template: Mapping[str, Any] | None = None,
                          cursor_secret: str | None = None, events_file: str | Path | None = None) -> None:
    """The functions' environment for this process (and the worker processes spawned after it): the template's
    literal variables, the local table, a cursor secret (kept from the environment, else random), dummy AWS
    credentials, change events to the log (and `events_file`). Call before importing any function module."""
    template = template if template is not None else tpl.load_template()
    for spec in tpl.functions(dict(template)).values():
        for name, value in spec.environment.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                os.environ.setdefault(name, str(value))
    os.environ["TABLE_NAME"] = table_name
    secret = cursor_secret or os.environ.get("CURSOR_SECRET") or ""
    os.environ["CURSOR_SECRET"] = secret if len(secret) >= 16 else secrets.token_urlsafe(32)
    if endpoint_url:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    else:
        os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tags")
    os.environ["EVENT_BUS_NAME"] = "local"  # never a real bus from here
    if events_file:
        os.environ["EVENTS_FILE"] = str(Path(events_file).resolve())

    from tags_core.store import client as db  # noqa: PLC0415

    db.reset()


def ensure_table(endpoint_url: str | None, table_name: str, template: Mapping[str, Any] | None = None) -> bool:
    """Create the table (keys and indexes from the template, TTL on) unless it exists. True when created."""
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=os.environ.get("AWS_REGION", REGION))
    try:
        client.describe_table(TableName=table_name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    the_template = dict(template) if template is not None else None
    client.create_table(TableName=table_name, **tpl.table_definition(the_template))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ttl_attribute = tpl.table_ttl_attribute(the_template)
    if ttl_attribute:
        client.update_time_to_live(TableName=table_name,
                                   TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})
    return True


def seed_demo_tenant() -> tuple[str, str, str]:
    """The `demo` tenant (kept if it exists) and a new write key for it: (tenant, key id, key)."""
    from tags_core.domain import accounts as auth  # noqa: PLC0415
    from tags_core.errors import Conflict  # noqa: PLC0415

    with contextlib.suppress(Conflict):  # kept from an earlier run against a persistent DynamoDB
        auth.create_tenant("Demo", tenant_id=DEMO_TENANT)
    key_id, key = auth.create_api_key(DEMO_TENANT, "write", "local demo")
    return DEMO_TENANT, key_id, key


def _quiet_libraries() -> None:
    logging.getLogger("botocore").setLevel(logging.WARNING)


@dataclass
class LocalApi:
    """A running local API (see `start_local_api`)."""

    url: str
    dynamodb_endpoint: str
    table_name: str
    tenant_id: str
    api_key: str
    api_key_id: str
    gateway: Gateway
    _server: Any
    _thread: threading.Thread
    _moto: Any = None
    _pollers: list[Any] = field(default_factory=list)
    _stopped: bool = False

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for poller in self._pollers:
            poller.stop()
        self._server.close()
        self._thread.join(timeout=10)
        self.gateway.invoker.close()
        if self._moto is not None:
            self._moto.stop()

    def __enter__(self) -> LocalApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_local_api(port: int = 0, *, host: str = "127.0.0.1", dynamodb_endpoint: str | None = None,
                    dynamodb_port: int = 0, table_name: str = DEFAULT_TABLE, authorizer_ttl: float | None = None,
                    workers: int = DEFAULT_WORKERS, streams: bool = True,
                    template_path: Path | None = None, events_file: str | Path | None = None) -> LocalApi:
    """Start DynamoDB (moto, unless `dynamodb_endpoint`), the table, the demo tenant and key, the table-stream
    consumers (`streams`; their events to the log and `events_file`) and the server, in background threads. Sets
    this process's environment (TABLE_NAME, DYNAMODB_ENDPOINT_URL, ...)."""
    _quiet_libraries()
    template = tpl.load_template(template_path)
    moto = None
    if dynamodb_endpoint is None:
        moto = EmbeddedDynamoDB(port=dynamodb_port)
        moto.start()
        dynamodb_endpoint = moto.url
    try:
        configure_environment(table_name, dynamodb_endpoint, template=template, events_file=events_file)
        ensure_table(dynamodb_endpoint, table_name, template)
        tenant, key_id, key = seed_demo_tenant()
        commands = _command_queue(dynamodb_endpoint)  # before the workers start: they inherit its URL

        specs = tpl.functions(template)
        for spec in specs.values():
            if importlib.util.find_spec(spec.module) is None:
                raise RuntimeError(f"{spec.logical_id}: no module {spec.module}")
        invoker: Invoker = (ProcessPoolInvoker(workers, warm_modules=[s.module for s in specs.values()])
                            if workers > 0 else InProcessInvoker())
        gateway = Gateway(template, invoker=invoker, authorizer_ttl=authorizer_ttl)
        app = LocalServer(gateway)
        server = KeepAliveServer(host, port, app)
        bound_port = server.server_address[1]
        url = f"http://{host}:{bound_port}"
        app.base_url = url
        thread = threading.Thread(target=server.serve_forever, name="tags-local", daemon=True)
        thread.start()
        pollers = _start_stream_consumers(gateway, table_name, dynamodb_endpoint) if streams else []
        if commands is not None:
            commands.handler = gateway.stream_handler("CommandConsumerFunction")
            commands.start()
            pollers.append(commands)
        app.status = functools.partial(_status, pollers, embedded=moto is not None)
    except BaseException:
        if moto is not None:
            moto.stop()
        raise
    return LocalApi(url=url, dynamodb_endpoint=dynamodb_endpoint, table_name=table_name, tenant_id=tenant,
                    api_key=key, api_key_id=key_id, gateway=gateway, _server=server, _thread=thread, _moto=moto,
                    _pollers=pollers)


def _status(pollers: list[Any], *, embedded: bool) -> dict[str, Any]:
    """What GET /_local/status answers: each stream consumer's progress (caught_up: it has read to the end of the
    stream and processed everything it read), the command queue's consumer and, with the embedded DynamoDB, what
    moto_fixes did so far."""
    statuses = [poller.status() for poller in pollers]
    consumers = [status for status in statuses if "caught_up" in status]
    queues = [status for status in statuses if "queue_url" in status]
    return {"stream": consumers, "caught_up": all(c["caught_up"] for c in consumers),
            "command_queue": queues[0] if queues else None,
            "dynamodb": moto_fixes.stats() if embedded else None}


def _command_queue(endpoint_url: str) -> Any:
    """The command queue on the DynamoDB endpoint (moto serves SQS there too), its URL in the functions'
    environment; None, with a warning, when the endpoint has no SQS (bulk jobs then answer 503)."""
    from tags_tools.local.queue_poller import QueuePoller  # noqa: PLC0415

    try:
        poller = QueuePoller(None, endpoint_url=endpoint_url, region=os.environ.get("AWS_REGION", REGION))
    except Exception as exc:
        logger.warning("no command queue at %s (%s): bulk jobs of more than 100 objects will answer 503",
                       endpoint_url, type(exc).__name__)
        return None
    os.environ["COMMAND_QUEUE_URL"] = poller.url
    os.environ["SQS_ENDPOINT_URL"] = endpoint_url
    from tags_core.store import client as db  # noqa: PLC0415

    db.reset()  # this process's settings read again, with the queue
    return poller


def _start_stream_consumers(gateway: Gateway, table_name: str, endpoint_url: str) -> list[Any]:
    """One StreamPoller per function the template subscribes to the table's stream."""
    from tags_tools.local.stream_poller import StreamPoller  # noqa: PLC0415

    pollers = []
    for logical_id, batch_size in gateway.settings.stream_consumers.items():
        poller = StreamPoller(table_name, gateway.stream_handler(logical_id), endpoint_url=endpoint_url,
                              region=os.environ.get("AWS_REGION", REGION), batch_size=batch_size)
        poller.start()
        pollers.append(poller)
    return pollers

