"""Waiting in tests: poll a condition until it holds, instead of sleeping a fixed time.

A fixed sleep is either too short on a loaded machine (the test fails) or too long everywhere (the suite is
slow). `wait_until` returns as soon as the condition holds and fails with a clear message when it never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.02, message: str | Callable[[], str] = ""
) -> T:
    """Call `predicate` every `interval` s until it returns something truthy, and return that value.

    AssertionError after `timeout` s (`message`, or a callable giving it, says what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"not within {timeout:g} s: {text or getattr(predicate, '__name__', 'condition')}")
        time.sleep(interval)
