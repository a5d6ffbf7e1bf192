"""Lazy re-exports for package `__init__` files: names resolve (and their modules import) on first use.

__getattr__, __dir__ = lazy_exports(__name__, {"RecordingSession": "dexumi.session.session", ...})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

Where = str | tuple[str, str]  # the defining module, or (module, its name there)


def lazy_exports(package: str, names: dict[str, Where]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module `__getattr__` and `__dir__` serving `names` from their modules, cached in the package."""

    def __getattr__(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = where if isinstance(where, tuple) else (where, name)
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
