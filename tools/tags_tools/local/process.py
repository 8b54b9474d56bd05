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


# The collector's thresholds for the servers that hold the table (Python's default: 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 100)


def keep_startup_out_of_gc() -> None:
    """What startup loaded (moto's service models, botocore's, the gateway: ~180,000 objects) is never garbage:
    moved out of the collector's reach, a full collection takes ~0 ms instead of ~66 ms, and that pause, which
    stops the gateway and the embedded DynamoDB alike, no longer grows with what was loaded. For long-lived server
    processes only (frozen objects that become cyclic garbage later are never collected).

    Then fewer full collections: the table's items and stream records are millions of long-lived objects, and with
    Python's default thresholds `make soak` ran a full collection every ~3 s, each stopping the whole server for a
    time that grew with the table (115 ms at the start, 220 ms after 10,000 requests: 4.5 s in 100 s). With these,
    2 full collections in the same run (and gen1 ones of at most 25 ms), 1.3 s in all."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
