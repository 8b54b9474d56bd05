"""The per key and object write limit holds in ANY span of its window (a sliding window, not fixed windows that a
burst straddling a boundary could pass at twice the rate), and its headers tell the truth: `RateLimit` the
remaining budget and when it next grows, `Retry-After` the first moment a write is accepted again.

Time is the service's clock (`tags_core.clock.now`), moved by the test instead of slept through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tags_core import clock
from tests.helpers import Invoke, attach, db

LIMIT = 3
WINDOW = 10
BOUNDARY = 1_800_000_000  # a multiple of the window: where a fixed window would start afresh


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def moved(monkeypatch: pytest.MonkeyPatch, table: str) -> Iterator[Clock]:
    monkeypatch.setenv("RATE_LIMIT_WRITES", str(LIMIT))
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", str(WINDOW))
    db.reset()
    fake = Clock(BOUNDARY - 2.0)
    monkeypatch.setattr(clock, "now", fake)
    yield fake
    db.reset()


def budget_header(result: object) -> dict[str, int]:
    parts = dict(p.split("=") for p in result.headers["RateLimit"].split(", "))  # type: ignore[attr-defined]
    return {k: int(v) for k, v in parts.items()}


def test_no_span_of_the_window_lets_more_than_the_limit_through(invoke: Invoke, moved: Clock) -> None:
    """A write every 0.25 s for 30 s, starting just before a window boundary: at most LIMIT accepted in any closed
    span of WINDOW seconds (the fixed window let twice LIMIT through around the boundary)."""
    accepted: list[float] = []
    for step in range(120):
        moved.now = BOUNDARY - 2.0 + step * 0.25
        result = attach(invoke, "conversations", "burst", [f"t{step}"])
        assert result.status in (200, 429), result.json
        assert result.headers["RateLimit-Policy"] == f"{LIMIT};w={WINDOW}"
        if result.status == 200:
            accepted.append(moved.now)
    for start in accepted:
        assert sum(start <= t <= start + WINDOW for t in accepted) <= LIMIT, accepted
    assert len(accepted) >= 3 * LIMIT  # and the budget does come back: 30 s hold three windows' worth


def test_headers_report_the_true_budget_and_retry_after_is_exact(invoke: Invoke, moved: Clock) -> None:
    start = moved.now
    for used in range(1, LIMIT + 1):
        moved.now = start + used  # writes at +1, +2, +3 s
        result = attach(invoke, "conversations", "o1", [f"n{used}"])
        assert result.status == 200, result.json
        assert budget_header(result) == {"limit": LIMIT, "remaining": LIMIT - used, "reset": WINDOW + 2 - used}
    moved.now = start + 4
    refused = attach(invoke, "conversations", "o1", ["late"])
    assert refused.status == 429
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == 8  # the write at +1 s leaves the window after +11 s: 7 s and a bit from +4 s
    assert budget_header(refused) == {"limit": LIMIT, "remaining": 0, "reset": retry_after}
    moved.now = start + 4 + retry_after - 1
    assert attach(invoke, "conversations", "o1", ["late"]).status == 429  # not a second early
    moved.now = start + 4 + retry_after
    after = attach(invoke, "conversations", "o1", ["late"])
    assert after.status == 200, after.json
    assert budget_header(after)["remaining"] == 0  # the writes at +2, +3 and now are inside the window


def test_a_write_that_changes_nothing_reports_the_budget_without_spending_it(invoke: Invoke, moved: Clock) -> None:
    assert attach(invoke, "conversations", "o2", ["same"]).status == 200
    again = attach(invoke, "conversations", "o2", ["same"])
    assert again.status == 200 and budget_header(again)["remaining"] == LIMIT - 1
    detach_nothing = invoke("DELETE", "/conversations/o2/tags/01M8ZZZZZZZZZZZZZZZZZZZZZZ")
    assert detach_nothing.status == 200 and budget_header(detach_nothing)["remaining"] == LIMIT - 1
