"""What the long-running local processes (`tags-local`, `tags-dynamodb`) share: stopping cleanly on Ctrl-C or
SIGTERM, and keeping what startup loaded out of the garbage collector's reach."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable
from types import FrameType


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed now)."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def serve_until(stop: threading.Event, shutdown: Callable[[], None]) -> int:
    """Wait for `stop`, then `shutdown` (also on an error); the exit code."""
    try:
        while not stop.wait(0.5):
            pass
    finally:
        shutdown()
    return 0


def keep_startup_out_of_gc() -> None:
    """What startup loaded (moto's service models, botocore's, the gateway: ~180,000 objects) is never garbage:
    moved out of the collector's reach, a full collection takes ~0 ms instead of ~66 ms, and that pause, which
    stops the gateway and the embedded DynamoDB alike, no longer grows with what was loaded. For long-lived server
    processes only (frozen objects that die later are never freed)."""
    gc.collect()
    gc.freeze()
