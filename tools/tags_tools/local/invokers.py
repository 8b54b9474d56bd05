"""Invoking a function as Lambda does: the context object, the outcome of one invocation, and two invokers.

`ProcessPoolInvoker` runs each function like a Lambda execution environment, one request at a time per worker
process, so concurrent requests really run concurrently. `InProcessInvoker` runs everything in this process, one
request at a time: Powertools' resolver keeps the current event in class attributes, so two requests handled by
threads of one interpreter would see each other's events.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Protocol

from tags_tools import template as tpl
from tags_tools.apigw_events import REGION

__all__ = ["InProcessInvoker", "Invoker", "LambdaContext", "Outcome", "ProcessPoolInvoker", "run_handler"]

logger = logging.getLogger(__name__)


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 10
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}")
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Outcome:
    """What an invocation gave: the handler's return value, or the exception it raised."""

    value: Any = None
    error_type: str | None = None
    error_message: str = ""
    trace: str = ""

    @property
    def ok(self) -> bool:
        return self.error_type is None


def run_handler(module: str, handler: str, event: dict[str, Any], context: dict[str, Any]) -> Outcome:
    """Import `module` (once per process) and call its handler. Runs in a worker process or in this one."""
    function = getattr(importlib.import_module(module), handler)
    try:
        # The function's JSON logs and metrics (its stdout on Lambda) go to this server's stderr, beside its request
        # log: stdout holds the startup lines a caller may read, and nobody may be reading it afterwards.
        with contextlib.redirect_stdout(sys.stderr):
            return Outcome(value=function(event, LambdaContext(**context)))
    except Exception as exc:
        return Outcome(error_type=type(exc).__name__, error_message=str(exc), trace=traceback.format_exc())


def _warm(modules: tuple[str, ...]) -> int:
    for module in modules:
        importlib.import_module(module)
    return os.getpid()


class Invoker(Protocol):
    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float, *, event_source: bool = False) -> Outcome: ...

    def close(self) -> None: ...


class InProcessInvoker:
    """Calls handlers in this interpreter, one at a time (see the module docstring for why)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float, *, event_source: bool = False) -> Outcome:
        with self._lock:
            return run_handler(spec.module, spec.handler, event, context)

    def close(self) -> None:
        return None


class ProcessPoolInvoker:
    """Worker processes (spawned, so they start clean and inherit the environment set before), each handling one
    request at a time like a Lambda execution environment. A crashed pool is replaced.

    API requests use at most all workers but one: the event sources (the stream processor, the command consumer)
    always find a worker free, as on AWS, where an event source mapping's invocations have concurrency of their
    own. Without it, a merge (which waits for the reverse index the stream processor writes) held a worker while
    the stream processor queued behind API requests, and with every worker busy answered `in_progress` after its
    20 s budget. With one worker there is nothing to keep apart."""

    def __init__(self, workers: int, warm_modules: Iterable[str] = ()) -> None:
        self._workers = workers
        self._api_slots = threading.BoundedSemaphore(max(1, workers - 1))
        self._lock = threading.Lock()
        self._executor = self._new_executor()
        modules = tuple(warm_modules)
        self._warming: list[Future[int]] = [self._executor.submit(_warm, modules) for _ in range(workers)]

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=get_context("spawn"))

    def wait_warm(self, timeout: float = 60.0) -> None:
        for future in self._warming:
            future.result(timeout=timeout)

    def invoke(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
               timeout: float, *, event_source: bool = False) -> Outcome:
        if event_source:
            return self._run(spec, event, context, timeout)
        with self._api_slots:
            return self._run(spec, event, context, timeout)

    def _run(self, spec: tpl.FunctionSpec, event: dict[str, Any], context: dict[str, Any],
             timeout: float) -> Outcome:
        executor = self._executor
        try:
            future = executor.submit(run_handler, spec.module, spec.handler, event, context)
            return future.result(timeout=timeout)
        except FutureTimeout:
            return Outcome(error_type="Timeout", error_message=f"Task timed out after {timeout:.0f} seconds")
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:
                    logger.error("a worker process died; starting new workers")
                    self._executor = self._new_executor()
            return Outcome(error_type="Runtime.ExitError", error_message="The worker process exited.")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

