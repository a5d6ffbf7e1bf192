"""The recorder's episode state machine, free of Qt: what each key does and what each session answer means.

States: connecting → idle ⇄ countdown → starting → recording → stopping → idle; error from anywhere. The
controller sends commands through `send(cmd, **fields)` and shows what happened through a `RecorderView`
(the window, or a test's recording fake). Undo of a discard lasts until the next start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dexumi.vocab import Outcome, RecorderState, SessionState

STATE_TEXT = {
    RecorderState.CONNECTING: "starting devices…",
    RecorderState.IDLE: "READY — Space to record",
    RecorderState.STARTING: "starting…",
    RecorderState.RECORDING: "● REC",
    RecorderState.STOPPING: "saving…",
    RecorderState.ERROR: "ERROR",
}
# device changes wait until the episode is over
BUSY = (RecorderState.RECORDING, RecorderState.STARTING, RecorderState.STOPPING, RecorderState.COUNTDOWN)


@dataclass
class EpisodeRow:
    number: int
    path: str = ""
    duration_s: float = 0.0
    outcome: str = Outcome.UNKNOWN
    status: str = "recording"  # recording | kept | discarded | error
    validation: str = ""  # "" (pending) | pass | warn: ... | error: ...


class RecorderView(Protocol):
    """What the controller asks of its display."""

    def show_state(self, state: RecorderState, text: str) -> None: ...
    def show_message(self, text: str, error: bool = False) -> None: ...
    def show_row(self, row: EpisodeRow) -> None: ...
    def episode_done(self, row: EpisodeRow, validate: bool) -> None: ...
    def run_countdown(self, running: bool) -> None: ...
    def episode_fields(self) -> dict[str, str]: ...  # task, notes, operator as typed
    def clear_notes(self) -> None: ...


class RecorderController:
    """`toggle()` (Space), `mark()` (S/F), `discard()` (Del), `undo()` (Ctrl+Z); `answered()` for replies."""

    def __init__(
        self, view: RecorderView, send: Callable[..., None] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.view = view
        self.send = send  # None while no session process is connected
        self.clock = clock
        self.state = RecorderState.CONNECTING
        self.error = ""
        self.countdown_left = 0
        self.t_start = 0.0
        self.current: EpisodeRow | None = None  # the episode being recorded
        self.last_kept: EpisodeRow | None = None  # the last finished one (S/F/Del act on it when idle)
        self.undo_row: EpisodeRow | None = None  # the last discarded one, until the next start

    # ------------------------------------------------------------------------------------------- state
    def set_state(self, state: RecorderState, text: str | None = None) -> None:
        self.state = state
        if text is None:
            text = (
                f"starting in {self.countdown_left}…"
                if state == RecorderState.COUNTDOWN
                else STATE_TEXT.get(state, state)
            )
        self.view.show_state(state, text)

    def fail(self, error: str, text: str) -> None:
        self.error = error
        self.set_state(RecorderState.ERROR, text)

    @property
    def busy(self) -> bool:
        return self.state in BUSY

    def _send(self, cmd: str, **fields: Any) -> None:
        assert self.send is not None, "no session"
        self.send(cmd, **fields)

    # ---------------------------------------------------------------------------------------- answers
    def answered(self, cmd: str, result: Any, error: str) -> bool:
        """A reply from the session; False when the controller does not handle `cmd` (the caller may)."""
        if error:
            self.view.show_message(f"{cmd}: {error}", True)
            if cmd == "open":
                self.fail(error, f"cannot start: {error}")
            elif cmd == "start":
                self.set_state(RecorderState.IDLE)
            elif cmd in ("stop", "discard") and self.state == RecorderState.STOPPING:
                self.set_state(RecorderState.IDLE)
            return True
        handler = {
            "start": self.on_start,
            "stop": self.on_stop,
            "discard": self.on_discard,
            "undo_discard": self.on_undo_discard,
        }.get(cmd)
        if handler is None:
            return False
        handler(result)
        return True

    # --------------------------------------------------------------------------------------- episodes
    def toggle(self, countdown_s: int = 0) -> None:
        if self.state == RecorderState.IDLE:
            if countdown_s > 0:
                self.countdown_left = countdown_s
                self.set_state(RecorderState.COUNTDOWN)
                self.view.run_countdown(True)
            else:
                self.start()
        elif self.state == RecorderState.COUNTDOWN:
            self.view.run_countdown(False)
            self.set_state(RecorderState.IDLE)
        elif self.state == RecorderState.RECORDING:
            self.stop(None)

    def countdown_step(self) -> None:
        self.countdown_left -= 1
        if self.countdown_left <= 0:
            self.view.run_countdown(False)
            self.start()
        else:
            self.set_state(RecorderState.COUNTDOWN)

    def start(self) -> None:
        self.set_state(RecorderState.STARTING)
        f = self.view.episode_fields()
        self._send("start", task=f.get("task", ""), notes=f.get("notes", ""), operator=f.get("operator", ""))

    def on_start(self, result: dict[str, Any]) -> None:
        self.t_start = self.clock()
        self.undo_row = None  # undo ends with the next start
        self.current = EpisodeRow(int(result["episode"]))
        self.view.show_row(self.current)
        self.set_state(RecorderState.RECORDING)

    def stop(self, outcome: str | None) -> None:
        assert self.current is not None
        self.current.duration_s = self.clock() - self.t_start
        if outcome:
            self.current.outcome = outcome
        self.set_state(RecorderState.STOPPING)
        self._send("stop", outcome=outcome, notes=self.view.episode_fields().get("notes", ""))

    def on_stop(self, result: dict[str, Any]) -> None:
        row = self.current
        self.current = None
        if row is not None:
            row.path, row.status = result["path"], "kept"
            self.view.show_row(row)
            self.last_kept = row
            self.view.episode_done(row, validate=True)
        quality = [q for q in result.get("quality") or [] if q]  # latency self-check, calibration drift
        if quality:
            self.view.show_message("  |  ".join(quality), any("ERROR" in q or "drift:" in q for q in quality))
        self.view.clear_notes()
        self.set_state(RecorderState.IDLE)

    def _kept_and_idle(self) -> bool:
        return self.state == RecorderState.IDLE and self.last_kept is not None and self.last_kept.status == "kept"

    def mark(self, outcome: str) -> None:
        if self.state == RecorderState.RECORDING:
            self.stop(outcome)
        elif self._kept_and_idle():
            assert self.last_kept is not None
            self.last_kept.outcome = outcome
            self.view.show_row(self.last_kept)
            self._send("outcome", outcome=outcome)
            self.view.show_message(f"episode {self.last_kept.number}: {outcome}")

    def discard(self) -> None:
        if self.state == RecorderState.RECORDING and self.current is not None:
            self.current.duration_s = self.clock() - self.t_start
            self.set_state(RecorderState.STOPPING)
        elif not self._kept_and_idle():
            return
        self._send("discard")

    def on_discard(self, result: dict[str, Any]) -> None:
        row = self.current or self.last_kept
        self.current = None
        if row is not None:
            row.path, row.status = result["path"], "discarded"
            self.view.show_row(row)
            self.undo_row = row
            self.last_kept = None
            self.view.episode_done(row, validate=False)
            self.view.show_message(f"episode {row.number} discarded — Ctrl+Z to undo (until the next start)")
        self.set_state(RecorderState.IDLE)

    def undo(self) -> None:
        if self.state == RecorderState.IDLE and self.undo_row is not None and self.send is not None:
            self._send("undo_discard")

    def on_undo_discard(self, result: dict[str, Any]) -> None:
        row = self.undo_row
        self.undo_row = None
        if row is not None:
            row.path, row.status = result["path"], "kept"
            self.last_kept = row
            self.view.show_row(row)
            self.view.episode_done(row, validate=not row.validation)
            self.view.show_message(f"episode {row.number} kept again")

    def notes(self) -> bool:
        """Save the typed notes (recording: into the episode; idle: into the last one); True if sent."""
        if self.send is not None and self.state in (RecorderState.RECORDING, RecorderState.IDLE):
            self._send("notes", notes=self.view.episode_fields().get("notes", ""))
            self.view.show_message("notes saved")
            return True
        return False

    def session_ended(self, status: dict[str, Any]) -> None:
        """The session stopped the episode by itself (disk full, ...): treat it as stopped."""
        if status.get("state") == SessionState.IDLE and self.state == RecorderState.RECORDING:
            self.on_stop({"path": status.get("last_episode") or ""})
