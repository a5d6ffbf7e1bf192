"""The wait helper: returns the predicate's value as soon as it holds, fails clearly when it never does."""

from __future__ import annotations

import time

import pytest

from tests.waits import wait_until


def test_returns_the_first_truthy_value_without_waiting_longer():
    calls = []

    def third_time() -> int | None:
        calls.append(1)
        return 42 if len(calls) == 3 else None

    t0 = time.monotonic()
    assert wait_until(third_time, timeout=10, interval=0.01) == 42
    assert len(calls) == 3 and time.monotonic() - t0 < 5


def test_times_out_with_the_message():
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"not within 0.2 s: the door opened"):
        wait_until(lambda: False, timeout=0.2, interval=0.01, message=lambda: "the door opened")
    assert time.monotonic() - t0 >= 0.2
