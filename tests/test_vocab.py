"""One vocabulary: code compares a closed set's values against its str Enum members, never against bare
strings (`state == RecorderState.RECORDING`, not `state == "recording"`), and Enum members reach files as
their plain strings.

The scan reads every module of dexumi/, firmware_bridge/, calibration/ and apps/ and flags a comparison
(`==`, `!=`, `in`, `not in`) between a string constant (or a tuple/list/set of them) that is a member value of
a vocabulary and a name known to hold that vocabulary (`state`, `x.level`, `attrs["outcome"]`,
`status.get("state")`, ...). Names that hold some other closed set with overlapping words are not in NAMES;
the few comparisons of such a name that do overlap are in ALLOWED with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import h5py
import pytest

from dexumi.vocab import (
    CheckLevel,
    EpisodeState,
    FrameEncoding,
    Outcome,
    Protocol,
    RecorderState,
    RetargetMode,
    SessionState,
    TactileProtocol,
    Vocabulary,
)
from tests.conftest import REPO

PACKAGES = ("dexumi", "firmware_bridge", "calibration", "apps")
PROTOCOLS: tuple[type[Vocabulary], ...] = (Protocol, TactileProtocol)
STATES: tuple[type[Vocabulary], ...] = (SessionState, RecorderState, EpisodeState)
LEVELS: tuple[type[Vocabulary], ...] = (CheckLevel,)
# a name (variable, attribute, subscript key or .get key) → the vocabularies it holds in this code base
NAMES: dict[str, tuple[type[Vocabulary], ...]] = {
    "protocol": PROTOCOLS,
    "protocol_name": PROTOCOLS,
    "state": STATES,
    "prev": STATES,
    "A_STATE": STATES,
    "level": LEVELS,
    "lv": LEVELS,
    "lvl": LEVELS,
    "lv_loss": LEVELS,
    "lv_jump": LEVELS,
    "worst": LEVELS,
    "outcome": (Outcome,),
    "A_OUTCOME": (Outcome,),
    "encoding": (FrameEncoding,),
    "mode": (RetargetMode,),
}
# (file, the comparison as ast.unparse writes it) → why the bare string is right there
ALLOWED: dict[tuple[str, str], str] = {}


def _name(node: ast.expr) -> str | None:
    """The identifier a comparison operand is known by: `x`, `a.x`, `a["x"]`, `a[S.x]`, `a.get("x")`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else _name(key)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        return (
            _name(node.args[0])
            if not isinstance(node.args[0], ast.Constant)
            else (node.args[0].value if isinstance(node.args[0].value, str) else None)
        )
    return None


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def bare_comparisons(source: str) -> list[tuple[int, str, str]]:
    """(line, comparison, vocabularies) for each comparison of a vocabulary name against a bare member value."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        hits = [
            v
            for a, b in zip(operands, operands[1:])
            for name_side, const_side in ((a, b), (b, a))
            for v in NAMES.get(_name(name_side) or "", ())
            for text in _strings(const_side)
            if text in {m.value for m in v}
        ]
        if hits:  # one finding per comparison, naming the vocabularies it matches
            found.append((node.lineno, ast.unparse(node), " or ".join(dict.fromkeys(v.__name__ for v in hits))))
    return found


def _modules() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts
    )


def test_scan_flags_bare_strings_and_passes_members():
    src = (
        'if self.state == "recording": pass\n'
        'if protocol not in ("v1", "legacy"): pass\n'
        'if f.attrs[S.A_STATE] in ("final", "recovered"): pass\n'
        'if status.get("state") == "idle": pass\n'
        'if c.level != "pass": pass\n'
        'if self.state == RecorderState.RECORDING and e.status == "final" and spec.kind == "auto": pass\n'
        'if h.get("state") == "lost": pass\n'
    )
    assert [(line, vocab) for line, _, vocab in bare_comparisons(src)] == [
        (1, "SessionState or RecorderState or EpisodeState"),
        (2, "Protocol"),
        (3, "EpisodeState"),
        (4, "SessionState or RecorderState"),
        (5, "CheckLevel"),
    ]


def test_no_bare_string_compares_against_a_vocabulary():
    files = _modules()
    assert len(files) > 200, "the scan did not find the packages"
    bad, used = [], set()
    for path in files:
        rel = str(path.relative_to(REPO))
        for line, text, vocab in bare_comparisons(path.read_text(encoding="utf-8")):
            if (rel, text) in ALLOWED:
                used.add((rel, text))
            else:
                bad.append(f"{rel}:{line}: {text}  (compare against {vocab} members)")
    assert not bad, "bare strings compared against a vocabulary:\n" + "\n".join(bad)
    assert used == set(ALLOWED), f"stale ALLOWED entries: {sorted(set(ALLOWED) - used)}"


def test_members_reach_hdf5_and_yaml_as_plain_strings(tmp_path):
    """h5py refuses a str Enum member (`No conversion path for dtype('<U7')`) and yaml.safe_dump cannot
    represent one: the writers hand both the plain string."""
    from dexumi.episode.finalize import _attr
    from dexumi.profile import _plain

    with h5py.File(tmp_path / "a.h5", "w") as f:
        _attr(f, "state", EpisodeState.RECOVERED)
        _attr(f, "outcome", Outcome.SUCCESS)
        _attr(f, "outcome", Outcome.FAILURE)  # modify of an existing attribute
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert (f.attrs["state"], f.attrs["outcome"]) == ("recovered", "failure")
    import yaml

    assert (
        yaml.safe_dump(_plain({"protocol": Protocol.V1, "list": [TactileProtocol.FSR]}))
        == "list:\n- fsr\nprotocol: v1\n"
    )


def test_emit_parses_its_level_once():
    from dexumi.validate.config import ValidateConfig
    from dexumi.validate.emit import emit
    from dexumi.validate.result import EpisodeReport
    from dexumi.vocab import VocabularyError

    r = EpisodeReport("x.h5")
    emit(r, ValidateConfig(), "gaps", "warn", "one gap")
    assert r.checks[0].level is CheckLevel.WARN and r.level is CheckLevel.WARN
    with pytest.raises(VocabularyError, match="unknown check level 'warning': use pass, info, warn, error, skip"):
        emit(r, ValidateConfig(), "gaps", "warning", "typo")
