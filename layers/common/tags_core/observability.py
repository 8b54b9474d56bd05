"""Logs and metrics of every function: one Powertools `Logger` and one `Metrics`, and the wrapper that runs a
Lambda handler inside them.

- `logger`: JSON lines on stdout (Lambda sends them to the function's log group). Service name, level and debug
  sampling come from the template (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL, POWERTOOLS_LOGGER_SAMPLE_RATE).
  Every line of an invocation carries the Lambda context and, for API requests, the correlation id (API Gateway's
  request id), tenant, key id and route; the last line of a request adds its status. Never the key, never the
  Authorization header, never the event (log_event is off whatever the environment says).
- `metrics`: CloudWatch embedded metric format, namespace from POWERTOOLS_METRICS_NAMESPACE, flushed once per
  invocation. Dimensions stay bounded: service and operation on every metric, plus the error code on `Errors`.
  The tenant is a property of the document (searchable in Logs Insights), never a dimension.
- `observed(operation)`: the wrapper. It opens the invocation's `tags_core.outcomes` tally, which the domain and
  the flows count into without importing Powertools, and turns it into metrics before the flush.

Powertools' logging and metrics modules are already loaded by the event handler every API function imports:
building these two objects costs a fraction of a millisecond of cold start (see docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from tags_core import outcomes

__all__ = ["Handler", "count_error", "count_request", "logger", "metrics", "observed"]

Handler = Callable[[dict[str, Any], Any], Any]

# The template sets both variables; the fallbacks keep tools and tests that import the layer without them apart
# from Powertools' "service_undefined".
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "tags"


class _Stdout:
    """Whatever sys.stdout is when a line is written, as for print() and so for the metrics (a plain handler would
    keep the stdout of the moment the layer was imported: a test's capture, or a local worker's redirect, would
    then split the logs from the metrics)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


# The sample rate as a number: Powertools keeps the variable's text, and "0" (the template's default) is a true
# string, so it re-drew the sample and reset the log level on every invocation (Python's setLevel then clears the
# cache of every logger in the process: ~26 us a request).
SAMPLE_RATE = float(os.environ.get("POWERTOOLS_LOGGER_SAMPLE_RATE") or 0)
logger = Logger(service=SERVICE, utc=True, stream=_Stdout(), sampling_rate=SAMPLE_RATE)  # type: ignore[arg-type]
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TagsService")

REQUESTS = "Requests"
ERRORS = "Errors"


def count_request() -> None:
    metrics.add_metric(name=REQUESTS, unit=MetricUnit.Count, value=1)


def count_error(operation: str, code: str) -> None:
    """One `Errors` data point with the error code as a third dimension (its own EMF document: the code must not
    become a dimension of the invocation's other metrics)."""
    dimensions = {"service": SERVICE, "operation": operation, "code": code}
    with single_metric(name=ERRORS, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
                       default_dimensions=dimensions):
        pass


def _flush_outcomes() -> None:
    for name, value in outcomes.drain().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def observed(operation: str) -> Callable[[Handler], Handler]:
    """Run a handler with the logger's Lambda context, the `operation` dimension, and its
    outcomes and metrics flushed when it returns or raises. The only place a function's handler is wrapped."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def counted(event: dict[str, Any], context: Any) -> Any:
            outcomes.start()
            metrics.clear_metrics()  # with POWERTOOLS_METRICS_DISABLED a flush keeps them: never carry any over
            metrics.add_dimension(name="operation", value=operation)
            try:
                return handler(event, context)
            finally:
                _flush_outcomes()

        in_lambda = logger.inject_lambda_context(metrics.log_metrics(counted, capture_cold_start_metric=True),
                                                 log_event=False, clear_state=True)
        without_context = metrics.log_metrics(counted)  # a test or tool calling the handler with no context

        @functools.wraps(handler)
        def entry(event: dict[str, Any], context: Any) -> Any:
            if context is None:
                logger.clear_state()
                return without_context(event, context)
            return in_lambda(event, context)

        return entry

    return wrap
