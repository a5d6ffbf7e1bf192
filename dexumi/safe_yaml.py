"""The one YAML loader for everything dexumi reads (map files, calibration profiles, validation configs).

`yaml.safe_load` constructs no objects, but it does not bound aliases: a "billion laughs" document of a
few hundred bytes expands to 10^9 nodes in whoever walks it (line maps, validation, re-dumping). This
loader composes the node graph once with the SafeLoader and refuses, in one line with the line number,
documents that are too large, use too many aliases, or expand to too many nodes; only then constructs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from dexumi.errors import DexumiError

MAX_BYTES = 4 << 20  # 4 MB of YAML: far above any map, profile or config
MAX_ALIASES = 100
MAX_NODES = 200_000  # nodes after expanding aliases


@dataclass
class YamlDoc:
    data: Any
    node: yaml.Node | None
    lines: dict[tuple, int]  # key path → 1-based line


class YamlError(DexumiError):
    """Not valid YAML: `line` (1-based, or None) and `problem` for callers that word it their own way."""

    def __init__(self, message: str, line: int | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.line, self.problem = line, problem


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that counts alias events while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise DexumiError(
                    f"{self._source}:{mark.line + 1}: more than {MAX_ALIASES} YAML aliases "
                    "(refusing a possible alias bomb)"
                )
        return super().compose_node(parent, index)


def _expanded_size(node: yaml.Node, source: str) -> int:
    """Nodes in the tree the graph expands to (memoised over shared nodes), bounded by MAX_NODES."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:
            raise DexumiError(f"{source}:{n.start_mark.line + 1}: recursive YAML alias")
        active.add(key)
        total = 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        elif isinstance(n, yaml.SequenceNode):
            for v in n.value:
                total += size(v)
                if total > MAX_NODES:
                    break
        active.discard(key)
        memo[key] = total
        if total > MAX_NODES:
            raise DexumiError(
                f"{source}:{n.start_mark.line + 1}: YAML expands to more than {MAX_NODES} nodes "
                "(refusing a possible alias bomb)"
            )
        return total

    return size(node)


def _lines(node: yaml.Node, path: tuple, out: dict[tuple, int], seen: set[int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:  # an aliased subtree: its lines are where it was defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark.line + 1)
            out[path + (key,)] = k.start_mark.line + 1
            _lines(v, path + (key,), out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _lines(v, path + (i,), out, seen)


def load_yaml(text: str, source: str = "<yaml>") -> YamlDoc:
    """Parse `text` safely and boundedly; DexumiError `source:line: problem` otherwise."""
    if len(text) > MAX_BYTES:
        raise DexumiError(f"{source}: {len(text) / 2**20:.1f} MB of YAML (more than {MAX_BYTES >> 20} MB)")
    loader = _CountingLoader(text)
    loader._source = source  # type: ignore[attr-defined]
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, source)
            data = loader.construct_document(node)
        else:
            data = None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())[:120] or "syntax error"
        raise YamlError(
            f"{source}{where}: not valid YAML: {problem}", mark.line + 1 if mark else None, problem
        ) from None
    except RecursionError:
        raise DexumiError(f"{source}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    if node is not None:
        _lines(node, (), lines, set())
    return YamlDoc(data, node, lines)


def safe_load(text: str, source: str = "<yaml>") -> Any:
    """`load_yaml(text, source).data`."""
    return load_yaml(text, source).data
