"""DynamoDB on your machine: moto's server, with the fixes of `moto_fixes` (bounded cost per transaction, a trimmed
stream, TTL deletions), applying one request at a time.

- `EmbeddedDynamoDB`: in a thread of the calling process; what `tags-local` starts unless given `--dynamodb-endpoint`.
- `tags-dynamodb` (`main`): the same server as a process of its own, for `tags-local --dynamodb-endpoint URL` (a
  DynamoDB that outlives restarts of the API, or is shared by several of them). A plain `moto_server` has none of
  the fixes and slows down with every write (see moto_fixes).

What it keeps in memory: every item of every table (as DynamoDB would keep them on disk), stream records until every
reader has had them and they are `delivered_retention` seconds old (undelivered ones up to 24 hours, as DynamoDB),
and shard iterators for 15 minutes. Items whose TTL has passed are deleted every `sweep_interval` seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from tags_tools.local import moto_fixes
from tags_tools.local.http11 import KeepAliveServer
from tags_tools.local.process import keep_startup_out_of_gc, serve_until, stop_on_signals

__all__ = ["EmbeddedDynamoDB", "main"]

logger = logging.getLogger("tags_tools.local.dynamodb")

DEFAULT_SWEEP_INTERVAL = 5.0
# Seconds a stream record stays once every reader has had it: a grace for a reader that starts meanwhile. The
# readers keep their own place (moto_fixes 2), so no reader needs it; 10 s held ~25 MB more under load.
DELIVERED_RETENTION = 2.0


class EmbeddedDynamoDB:
    """moto's DynamoDB as a local HTTP endpoint (what moto's ThreadedMotoServer runs), applying one request at a
    time: moto handles concurrent requests without isolation (two transactions could both pass their conditions),
    DynamoDB applies each request atomically. Connections are kept alive (HTTP/1.1, http11.py), as the SDK's to
    DynamoDB are."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delivered_retention: float = DELIVERED_RETENTION,
                 sweep_interval: float = DEFAULT_SWEEP_INTERVAL) -> None:
        moto_fixes.apply(delivered_retention=delivered_retention)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: PLC0415

        dispatcher = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()

        def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._lock:
                return list(dispatcher(environ, start_response))  # the whole answer, inside the lock

        self._server = KeepAliveServer(host, port, serialized)
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb-local", daemon=True)
        self._sweep_interval = sweep_interval
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="dynamodb-ttl", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()
        if self._sweep_interval > 0:
            self._sweeper.start()

    def put_items(self, table_name: str, items: list[dict[str, Any]], *, account: str = "123456789012",
                  region: str = "us-east-1") -> None:
        """Put items (DynamoDB JSON) straight into the table, between two requests: bulk loading for the
        benchmark, without a request per 25 items."""
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

        with self._lock:
            backend = dynamodb_backends[account][region]
            for item in items:
                backend.put_item(table_name, item)

    def sweep(self) -> int:
        """Delete the items whose TTL has passed, now (between two requests). Returns how many."""
        with self._lock:
            return moto_fixes.sweep_expired()

    def _sweep(self) -> None:
        while not self._stop.wait(self._sweep_interval):
            try:
                self.sweep()
            except Exception:
                logger.exception("TTL sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=10)
        if self._sweeper.is_alive():
            self._sweeper.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tags-dynamodb", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--stream-retention", type=float, default=DELIVERED_RETENTION, metavar="SECONDS",
                        help="how long a stream record is kept once every reader has had it "
                             f"(default {DELIVERED_RETENTION:g})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    stop = stop_on_signals()
    server = EmbeddedDynamoDB(args.host, args.port, delivered_retention=args.stream_retention)
    server.start()
    keep_startup_out_of_gc()
    print(f"DynamoDB: {server.url}", flush=True)
    return serve_until(stop, server.stop)


if __name__ == "__main__":
    raise SystemExit(main())
