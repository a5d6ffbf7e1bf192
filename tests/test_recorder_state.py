"""The recorder's episode state machine (apps/recorder/state.py), driven directly: no Qt, no session process."""

from __future__ import annotations

import sys

import pytest

from apps.recorder.state import EpisodeRow, RecorderController


class View:
    """Records what the controller shows."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.messages: list[tuple[str, bool]] = []
        self.rows: list[tuple[int, str, str]] = []
        self.done: list[tuple[str, bool]] = []
        self.countdown: list[bool] = []
        self.fields = {"task": "pick", "notes": "n1", "operator": "ann"}
        self.cleared = 0

    def show_state(self, state: str, text: str) -> None:
        self.states.append((state, text))

    def show_message(self, text: str, error: bool = False) -> None:
        self.messages.append((text, error))

    def show_row(self, row: EpisodeRow) -> None:
        self.rows.append((row.number, row.status, row.outcome))

    def episode_done(self, row: EpisodeRow, validate: bool) -> None:
        self.done.append((row.path, validate))

    def run_countdown(self, running: bool) -> None:
        self.countdown.append(running)

    def episode_fields(self) -> dict[str, str]:
        return dict(self.fields)

    def clear_notes(self) -> None:
        self.cleared += 1


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def rig():
    view, sent, clock = View(), [], Clock()
    ctl = RecorderController(view, lambda cmd, **kw: sent.append((cmd, kw)), clock)
    ctl.set_state("idle")
    return ctl, view, sent, clock


def test_record_stop_keep_and_mark_after(rig):
    ctl, view, sent, clock = rig
    ctl.toggle()
    assert ctl.state == "starting" and sent[-1] == ("start", {"task": "pick", "notes": "n1", "operator": "ann"})
    ctl.answered("start", {"episode": 7}, "")
    assert ctl.state == "recording" and view.rows[-1] == (7, "recording", "unknown")
    clock.t += 4.5
    ctl.toggle()  # Space again: stop
    assert ctl.state == "stopping" and sent[-1] == ("stop", {"outcome": None, "notes": "n1"})
    assert ctl.current is not None and ctl.current.duration_s == pytest.approx(4.5)
    ctl.answered("stop", {"path": "/d/episode_0007.h5", "quality": ["latency: ok", ""]}, "")
    assert ctl.state == "idle" and view.rows[-1] == (7, "kept", "unknown")
    assert view.done == [("/d/episode_0007.h5", True)] and view.cleared == 1
    assert view.messages[-1] == ("latency: ok", False)
    ctl.mark("success")  # S after stopping: the finished episode's outcome
    assert sent[-1] == ("outcome", {"outcome": "success"}) and view.rows[-1] == (7, "kept", "success")
    assert ctl.state == "idle"


def test_mark_while_recording_stops_with_the_outcome(rig):
    ctl, view, sent, clock = rig
    ctl.toggle()
    ctl.answered("start", {"episode": 1}, "")
    ctl.mark("failure")
    assert sent[-1] == ("stop", {"outcome": "failure", "notes": "n1"}) and ctl.current.outcome == "failure"


def test_countdown_counts_down_then_starts_and_space_cancels(rig):
    ctl, view, sent, _ = rig
    ctl.toggle(countdown_s=3)
    assert ctl.state == "countdown" and view.states[-1] == ("countdown", "starting in 3…") and view.countdown == [True]
    ctl.countdown_step()
    assert view.states[-1] == ("countdown", "starting in 2…") and not sent
    ctl.toggle()  # Space during the countdown cancels it
    assert ctl.state == "idle" and view.countdown == [True, False] and not sent
    ctl.toggle(countdown_s=2)
    ctl.countdown_step()
    ctl.countdown_step()
    assert ctl.state == "starting" and sent[-1][0] == "start" and view.countdown[-1] is False


def test_discard_then_undo_until_the_next_start(rig):
    ctl, view, sent, _ = rig
    ctl.discard()
    assert not sent  # nothing recorded yet: nothing to discard
    ctl.toggle()
    ctl.answered("start", {"episode": 3}, "")
    ctl.discard()  # Del while recording
    assert ctl.state == "stopping" and sent[-1] == ("discard", {})
    ctl.answered("discard", {"path": "/d/episode_0003.h5.discarded"}, "")
    assert ctl.state == "idle" and view.rows[-1] == (3, "discarded", "unknown") and ctl.last_kept is None
    assert view.done[-1] == ("/d/episode_0003.h5.discarded", False)
    ctl.undo()
    assert sent[-1] == ("undo_discard", {})
    ctl.answered("undo_discard", {"path": "/d/episode_0003.h5"}, "")
    assert view.rows[-1] == (3, "kept", "unknown") and ctl.last_kept.number == 3
    assert view.done[-1] == ("/d/episode_0003.h5", True)  # not validated yet: validate now
    ctl.discard()  # the kept one, idle
    ctl.answered("discard", {"path": "/d/episode_0003.h5.discarded"}, "")
    ctl.toggle()
    ctl.answered("start", {"episode": 4}, "")
    n = len(sent)
    ctl.undo()  # a start ended the undo
    assert len(sent) == n and ctl.undo_row is None


def test_errors_go_back_to_idle_or_to_error(rig):
    ctl, view, sent, _ = rig
    ctl.toggle()
    assert ctl.answered("start", None, "not starting: required stream(s) missing: encoder")
    assert ctl.state == "idle" and view.messages[-1] == (
        "start: not starting: required stream(s) missing: encoder",
        True,
    )
    ctl.answered("open", None, "no such port")
    assert (
        ctl.state == "error"
        and ctl.error == "no such port"
        and view.states[-1] == ("error", "cannot start: no such port")
    )
    assert not ctl.answered("open", {"live": "x"}, "")  # a successful open is the window's to handle


def test_session_stopping_the_episode_by_itself_is_a_stop(rig):
    ctl, view, _, _ = rig
    ctl.toggle()
    ctl.answered("start", {"episode": 9}, "")
    ctl.session_ended({"state": "idle", "last_episode": "/d/episode_0009.h5"})
    assert ctl.state == "idle" and view.rows[-1] == (9, "kept", "unknown") and view.done[-1][0] == "/d/episode_0009.h5"


def test_the_controller_needs_no_qt():
    assert "apps.recorder.state" in sys.modules
    import importlib
    import subprocess

    code = "import sys, apps.recorder.state; sys.exit('PySide6' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert importlib.import_module("apps.recorder.state").RecorderController is RecorderController
