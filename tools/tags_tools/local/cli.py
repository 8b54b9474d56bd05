"""The API on your machine, without Docker or an AWS account: `tags-local` (or `make run`).

What it does, per request, is what API Gateway does in front of the deployed functions, driven by template.yaml
(gateway.py); the functions' real `lambda_handler`s answer (invokers.py). DynamoDB is moto's server on a free local
port with the fixes of moto_fixes.py (in memory: data is gone when the server stops), or any DynamoDB given with
`--dynamodb-endpoint` (`tags-dynamodb`, the same server as a process of its own, or DynamoDB Local). The
table-stream consumers run too (stream_poller.py); their change events go to the log instead of EventBridge, and
with `--events-file PATH` are also appended to that file as JSON lines (docs/events.md). `--workers N` worker
processes (default 5: four API requests at once, one kept for the consumers) each handle one request at a time
like a Lambda execution environment; with `--workers 0` everything runs in this process, one request at a time.
The server itself: server.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from tags_tools.local.process import keep_startup_out_of_gc, serve_until, stop_on_signals
from tags_tools.local.server import DEFAULT_TABLE, DEFAULT_WORKERS, start_local_api

__all__ = ["main"]

DEFAULT_PORT = 3000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tags-local", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT),
                        help="port (default $PORT or 3000; 0 picks a free one)")
    parser.add_argument("--dynamodb-endpoint", metavar="URL",
                        help="use this DynamoDB (e.g. DynamoDB Local) instead of an in-memory one")
    parser.add_argument("--dynamodb-port", type=int, default=0, help="port of the in-memory DynamoDB (default: free)")
    parser.add_argument("--table", default=DEFAULT_TABLE, help=f"table name (default {DEFAULT_TABLE})")
    parser.add_argument("--authorizer-ttl", type=float, default=None,
                        help="seconds an authorizer result is reused (default: the template's ReauthorizeEvery)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"worker processes (default {DEFAULT_WORKERS}; 0: in this process, one at a time)")
    parser.add_argument("--no-streams", action="store_true", help="do not run the table-stream consumers")
    parser.add_argument("--events-file", metavar="PATH",
                        help="also append the change events (always logged) to this file, one JSON per line")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    stop = stop_on_signals()

    api = start_local_api(args.port, host=args.host, dynamodb_endpoint=args.dynamodb_endpoint,
                          dynamodb_port=args.dynamodb_port, table_name=args.table,
                          authorizer_ttl=args.authorizer_ttl, workers=max(0, args.workers),
                          streams=not args.no_streams, events_file=args.events_file)
    keep_startup_out_of_gc()
    print(f"API: {api.url}", flush=True)
    print(f"API key: {api.api_key}", flush=True)
    print(f"DynamoDB: {api.dynamodb_endpoint}", flush=True)
    print(f"Table: {api.table_name}", flush=True)
    print(f"Docs: {api.url}/docs", flush=True)
    if args.events_file:
        print(f"Events: {os.environ['EVENTS_FILE']}", flush=True)
    print(f"Try: curl -H 'Authorization: Bearer {api.api_key}' {api.url}/tags", file=sys.stderr, flush=True)
    return serve_until(stop, api.shutdown)


if __name__ == "__main__":
    raise SystemExit(main())
