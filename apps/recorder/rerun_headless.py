"""`dexumi record --headless --rerun FILE.rrd`: the live session saved to an .rrd, off the capture path.

The same split as the window's `--rerun`: in the session's process `LivePublisher` (apps.recorder.session_host)
taps the devices' reads with a cheap append and publishes, at display rate, decimated joint rows (retargeted robot
joints too) and each camera's newest frame to the shared-memory live buffer. A child process (`python -m
apps.recorder.rerun_headless`) reads that buffer as the window would and logs it with `LiveRerun`
(apps.rerunview.live: a bounded queue that drops the oldest when rerun is slow). Encoding and logging never take the recording process's CPU or GIL: in
the same process they delayed the grabber threads enough to skew the camera clock fit.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FEED_S = 0.05  # the window redraws at ~30/s; frames are the newest per camera at each feed


class HeadlessRerun:
    """Stream a headless session's live view to `save` (an .rrd file) until `close()`."""

    def __init__(self, session, save: str | Path) -> None:
        from apps.recorder.session_host import LivePublisher

        self.pub = LivePublisher(session)
        r = session.retargeter
        spec = {
            "live": self.pub.writer.name,
            "save": str(save),
            "exo": list(session.joint_names),
            "robot": list(r.robot_joint_names) if r is not None else [],
            "cameras": list(self.pub.cameras),
        }
        self.logged = {"rows": 0, "frames": 0, "dropped": 0}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apps.recorder.rerun_headless", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # "ready" once rerun is set up (or its one-line error)
        if line.strip() != "ready":
            self.proc.wait(timeout=10)
            self.pub.close()
            from dexumi.errors import DexumiError

            raise DexumiError(f"--rerun: {line.strip() or 'the rerun writer did not start'}")

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # the child feeds once more, closes the .rrd and reports
            out = self.proc.stdout.read()
            self.proc.wait(timeout=30)
            last = out.strip().splitlines()[-1] if out.strip() else "{}"
            self.logged.update(json.loads(last))
        except (subprocess.TimeoutExpired, ValueError, OSError) as exc:
            log.warning("rerun writer: %s", exc)
            self.proc.kill()
        finally:
            self.pub.close()


def _child(spec: dict) -> int:
    """The child: attach to the live buffer, feed LiveRerun until stdin closes, print what was logged."""
    from apps.recorder.live import LiveReader
    from apps.rerunview.live import LiveRerun

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the recorder; it closes us through stdin
    try:
        live = LiveRerun(spec["save"])
        reader = LiveReader(spec["live"])
    except Exception as exc:  # noqa: BLE001 - one line to the parent
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, flush=True)
        return 1
    print("ready", flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    head = 0

    def feed() -> None:
        nonlocal head
        rows, head = reader.rows_since(head)
        live.rows(rows, spec["exo"], spec["robot"])
        for k, cam in enumerate(spec["cameras"]):
            fr = reader.frame(k)
            if fr is not None:
                live.frame(cam, fr.time, fr.jpeg)

    while not done.wait(FEED_S):
        try:
            feed()
        except Exception:
            log.exception("rerun headless feed")
    try:
        feed()
    except Exception:  # noqa: BLE001 - the buffer may be gone already
        pass
    live.close()
    reader.close()
    print(json.dumps({**live.logged, "dropped": live.dropped}), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(_child(json.loads(sys.argv[1])))
