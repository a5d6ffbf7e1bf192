"""The recorder's keys: configurable in a small TOML file, global even while a text field has focus.

    # ~/.config/dexumi/recorder.toml (or `dexumi record --keys FILE`)
    [keys]
    start_stop = ["Space", "F13"]   # a foot pedal is a HID keyboard: give the key it sends
    success = "S"
    failure = "F"
    discard = "Del"
    undo = "Ctrl+Z"
    rerecord = "R"
    mute = "M"

    [pacing]
    reset_s = 10        # reset timer between episodes (0: count up)
    gap_flag_s = 0.5    # flag an episode whose longest encoder gap is longer than this

Global rule: a key that is not a plain printable character (F-keys, pedal keys, Del, Ctrl/Alt combinations)
acts wherever the focus is. Space acts in a text field too unless you are typing in it: right after the field
got focus or after Enter it starts/stops; once you type a character it types a space until Enter, Esc or
leaving the field. Other printable keys (S, F, R, M) type into a focused field.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
DEFAULT_FILE = Path.home() / ".config" / "dexumi" / "recorder.toml"
ACTIONS = ("start_stop", "success", "failure", "discard", "undo", "rerecord", "mute")
DEFAULT_KEYS = {
    "start_stop": ["Space"],
    "success": ["S"],
    "failure": ["F"],
    "discard": ["Del"],
    "undo": ["Ctrl+Z"],
    "rerecord": ["R"],
    "mute": ["M"],
}


@dataclass
class RecorderSettings:
    """Keys and pacing from the settings file."""

    keys: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_KEYS.items()})
    reset_s: float = 0.0
    gap_flag_s: float = 0.5
    muted: bool = False
    speech: bool = True
    source: Path | None = None


def load_settings(path: Path | None = None) -> RecorderSettings:
    """Read the settings file (`path`, else ~/.config/dexumi/recorder.toml if it exists; else defaults)."""
    s = RecorderSettings()
    p = path if path is not None else (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    if p is None:
        return s
    try:
        doc = tomllib.loads(Path(p).read_text())
    except OSError as exc:
        raise DexumiError(f"{p}: cannot read the recorder settings: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DexumiError(f"{p}: not valid TOML: {exc}") from None
    s.source = Path(p)
    for action, keys in (doc.get("keys") or {}).items():
        if action not in ACTIONS:
            raise DexumiError(f"{p}: unknown key action {action!r} (known: {', '.join(ACTIONS)})")
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise DexumiError(f"{p}: keys.{action} must be a key name or a list of them")
        for k in keys:
            q = QtGui.QKeySequence(k)
            if q.isEmpty() or q.count() != 1 or not q.toString():  # Qt gives unknown names an empty text
                raise DexumiError(f"{p}: keys.{action}: {k!r} is not a key Qt knows (e.g. Space, F13, Ctrl+R)")
        s.keys[action] = list(keys)
    pacing = doc.get("pacing") or {}
    try:
        s.reset_s = float(pacing.get("reset_s", s.reset_s))
        s.gap_flag_s = float(pacing.get("gap_flag_s", s.gap_flag_s))
    except (TypeError, ValueError):
        raise DexumiError(f"{p}: pacing.reset_s and pacing.gap_flag_s are seconds") from None
    sound = doc.get("sound") or {}
    s.muted = bool(sound.get("muted", s.muted))
    s.speech = bool(sound.get("speech", s.speech))
    return s


def _combo(ev: QtGui.QKeyEvent) -> int:
    mods = ev.modifiers() & (
        QtCore.Qt.KeyboardModifier.ControlModifier
        | QtCore.Qt.KeyboardModifier.AltModifier
        | QtCore.Qt.KeyboardModifier.ShiftModifier
        | QtCore.Qt.KeyboardModifier.MetaModifier
    )
    return int(ev.key()) | int(mods.value if hasattr(mods, "value") else mods)


def _seq_combo(text: str) -> int:
    c = QtGui.QKeySequence(text)[0]
    return int(c.toCombined()) if hasattr(c, "toCombined") else int(c)


class KeyRouter(QtCore.QObject):
    """An event filter on the window's focusable widgets: mapped keys pressed anywhere in `window` run their
    action."""

    def __init__(
        self, window: QtWidgets.QWidget, keys: dict[str, list[str]], actions: dict[str, Callable[[], None]]
    ) -> None:
        super().__init__(window)
        self.window = window
        self.actions = actions
        self.map: dict[int, str] = {}
        for action, names in keys.items():
            for name in names:
                self.map[_seq_combo(name)] = action
        self.fired: list[str] = []  # actions run, in order (for the status bar and tests)
        self._swallow: int | None = None
        self._watched: set[int] = set()
        self.watch()

    def watch(self) -> None:
        """Filter the window and every child that can take the focus (call again after adding widgets).
        Per widget rather than application-wide: paint and timer events of the live views never reach Python."""
        for w in [self.window, *self.window.findChildren(QtWidgets.QWidget)]:
            if w is self.window or w.focusPolicy() != QtCore.Qt.FocusPolicy.NoFocus:
                if id(w) not in self._watched:
                    self._watched.add(id(w))
                    w.installEventFilter(self)

    def remove(self) -> None:
        for w in [self.window, *self.window.findChildren(QtWidgets.QWidget)]:
            w.removeEventFilter(self)
        self._watched.clear()

    def _ours(self, obj: QtCore.QObject) -> bool:
        return isinstance(obj, QtWidgets.QWidget) and obj.window() is self.window

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        t = ev.type()
        if t == QtCore.QEvent.Type.FocusIn and isinstance(obj, QtWidgets.QLineEdit):
            obj.setModified(False)  # fresh focus: Space starts/stops until the user types
            return False
        if t not in (QtCore.QEvent.Type.ShortcutOverride, QtCore.QEvent.Type.KeyPress) or not self._ours(obj):
            return False
        combo = _combo(ev)
        if t == QtCore.QEvent.Type.KeyPress:
            if self._swallow == combo:
                self._swallow = None
                return True
            if isinstance(obj, QtWidgets.QLineEdit) and ev.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
                QtCore.QTimer.singleShot(0, lambda o=obj: o.setModified(False))
            if obj is not QtWidgets.QApplication.focusWidget() and QtWidgets.QApplication.focusWidget() is not None:
                return False
        action = self.map.get(combo)
        if action is None or ev.isAutoRepeat():
            return False
        if not self._applies(obj, ev):
            return False
        if t == QtCore.QEvent.Type.ShortcutOverride:
            ev.accept()  # no QShortcut fires; the KeyPress that follows is swallowed
            self._swallow = combo
        self.fired.append(action)
        fn = self.actions.get(action)
        if fn is not None:
            fn()
        return True

    @staticmethod
    def _applies(obj: QtCore.QObject, ev: QtGui.QKeyEvent) -> bool:
        text_field = isinstance(
            obj,
            (
                QtWidgets.QLineEdit,
                QtWidgets.QTextEdit,
                QtWidgets.QPlainTextEdit,
                QtWidgets.QAbstractSpinBox,
                QtWidgets.QComboBox,
            ),
        )
        mods = ev.modifiers() & ~QtCore.Qt.KeyboardModifier.KeypadModifier
        printable = (
            bool(ev.text())
            and ev.text().isprintable()
            and mods in (QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.KeyboardModifier.ShiftModifier)
        )
        if not text_field or not printable:
            return True
        if ev.key() == QtCore.Qt.Key.Key_Space:
            return not (isinstance(obj, QtWidgets.QLineEdit) and obj.isModified())
        return False
