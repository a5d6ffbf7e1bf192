"""The one "document with line numbers" validator: map files, validation configs (and profiles) read through it.

`load_document(text, source, suffix)` parses YAML (bounded, `dexumi.safe_yaml`), TOML or JSON; the returned
`CheckedDoc` knows where each key is (YAML), so every problem becomes one line `FILE:LINE: key.path: what`.
Its small typed readers (`number`, `name`, `table`, `numbers`) word the common problems the same way in
every file dexumi reads.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from dexumi.errors import DexumiError

KeyPath = tuple[Any, ...]  # a key path: ("joints", "index_mcp", "scale"), list items by position


class CheckedDoc:
    """A loaded document plus where its keys are, for one-line errors."""

    def __init__(self, data: Any, lines: dict[KeyPath, int], source: str) -> None:
        self.data, self.lines, self.source = data, lines, source

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest parent that has one (None for TOML/JSON)."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return line
        return None

    def error(self, path: KeyPath, msg: str) -> DexumiError:
        key = ".".join(str(p) for p in path) if path else "(top level)"
        line = self.line(path)
        where = f":{line}" if line is not None else ""
        return DexumiError(f"{self.source}{where}: {key}: {msg}")

    # ------------------------------------------------------------------------------------- readers
    def number(self, path: KeyPath, value: Any, *, positive: bool = False, nonneg: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(path, f"expected a number, got {value!r}")
        if positive and value <= 0:
            raise self.error(path, f"must be > 0, got {value!r}")
        if nonneg and value < 0:
            raise self.error(path, f"must be >= 0, got {value!r}")
        return float(value)

    def name(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(path, f"expected a name, got {value!r}")
        return value

    def table(self, path: KeyPath, value: Any, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a mapping, got {type(value).__name__}")
        for k in value if allowed is not None else ():
            if k not in allowed:  # type: ignore[operator]
                raise self.error(path + (k,), f"unknown key (allowed: {', '.join(allowed)})")  # type: ignore[arg-type]
        return value

    def numbers(self, path: KeyPath, value: Any, n: int | None = None) -> tuple[float, ...]:
        if not isinstance(value, list) or (n is not None and len(value) != n):
            raise self.error(path, f"expected a list of {n if n is not None else ''} numbers".replace("  ", " "))
        return tuple(self.number(path + (i,), v) for i, v in enumerate(value))


def read_text(path: str | Path, what: str) -> str:
    """A file's text, or DexumiError `PATH: cannot read WHAT: why` (missing, unreadable, not UTF-8)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        raise DexumiError(f"{p}: cannot read {what}: {why}") from None


def load_document(text: str, source: str, suffix: str = ".yaml") -> CheckedDoc:
    """Parse `text` by its file suffix (.toml, .json, else YAML); DexumiError `source[:line]: problem`."""
    suffix = suffix.lower()
    if suffix == ".toml":
        try:
            return CheckedDoc(tomllib.loads(text), {}, source)
        except tomllib.TOMLDecodeError as exc:
            raise DexumiError(f"{source}: not valid TOML: {' '.join(str(exc).split())}") from None
    if suffix == ".json":
        try:
            return CheckedDoc(json.loads(text), {}, source)
        except ValueError as exc:
            raise DexumiError(f"{source}: not valid JSON: {str(exc).splitlines()[0][:120]}") from None
    from dexumi.safe_yaml import load_yaml

    doc = load_yaml(text, source)  # bounded (alias bombs, size) and with line numbers
    return CheckedDoc(doc.data, doc.lines, source)
