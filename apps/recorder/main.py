"""`dexumi record` without --headless: the recorder app. `run(args)` is the hook `apps/cli/commands/record.py` calls."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from apps.recorder.options import RecorderOptions
from dexumi.errors import DexumiError
from dexumi.vocab import RecorderState

log = logging.getLogger(__name__)
OPEN_TIMEOUT_S = 90.0


def _check_display(screenshot: bool) -> None:
    """No display: offscreen for a screenshot, else a one-line error instead of Qt's abort."""
    from apps.display import require_display

    require_display("record with --headless", render_only=screenshot)


def make_settings(opts: RecorderOptions):
    from PySide6 import QtCore

    if opts.settings_path is not None:
        return QtCore.QSettings(str(opts.settings_path), QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings("dexumi", "recorder")


def _dispose(app, win) -> None:
    """Delete the window's Qt objects while the interpreter is alive (avoids crashes in teardown)."""
    import gc

    from PySide6 import QtCore

    win.deleteLater()
    app.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()


def run(args: argparse.Namespace) -> int:
    opts = RecorderOptions.from_args(args)
    if opts.screenshot is not None and opts.screenshot.suffix.lower() != ".png":
        raise DexumiError(f"--screenshot {opts.screenshot}: give a .png path")
    return run_options(opts)


def run_options(opts: RecorderOptions) -> int:
    """Open the window; with `opts.screenshot`, save it after a few seconds of live data and exit."""
    if not opts.sim and not opts.port and opts.screenshot is None:
        opts.sim = False  # the setup panel lets the user choose; say so in the window
    _check_display(opts.screenshot is not None)
    from apps.pyside_fix import immortalize_singletons

    immortalize_singletons()
    from PySide6 import QtCore, QtWidgets

    from apps.recorder.window import RecorderWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("dexumi recorder")
    win = RecorderWindow(opts, make_settings(opts))
    win.show()
    result = {"code": 0, "error": ""}

    def fail(msg: str) -> None:
        result["code"], result["error"] = 2, msg
        app.quit()

    if opts.screenshot is not None:

        def shoot() -> None:
            try:
                win.screenshot(opts.screenshot)
                log.info("screenshot saved: %s", opts.screenshot)
            except OSError as exc:
                fail(str(exc))
                return
            app.quit()

        win.session_opened.connect(lambda: QtCore.QTimer.singleShot(int(opts.screenshot_after_s * 1000), shoot))
        QtCore.QTimer.singleShot(
            int(OPEN_TIMEOUT_S * 1000), lambda: fail(f"the devices did not start within {OPEN_TIMEOUT_S:g} s")
        )

        def check_error() -> None:  # slots return None: PySide6 6.12 mis-counts references to returned bools
            if win.state == RecorderState.ERROR:
                fail(win.error or "the session could not start")

        timer = QtCore.QTimer(win, interval=200)
        timer.timeout.connect(check_error)
        timer.start()
    # Ctrl+C in the terminal closes the window (the running episode is finalised by the session process)
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    poke = QtCore.QTimer(win, interval=250)  # lets Python see the signal while Qt's loop runs
    poke.timeout.connect(lambda: None)
    poke.start()
    app.exec()
    win.close()
    _dispose(app, win)
    if result["error"]:
        raise DexumiError(result["error"])
    return result["code"]
