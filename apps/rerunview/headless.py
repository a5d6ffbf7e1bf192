"""`dexumi record --headless --rerun FILE.rrd`: the live session saved to an .rrd, off the capture path.

The same path as the window's `--rerun`: `LivePublisher` (apps.recorder.session_host) taps the devices' reads
with a cheap append and publishes, at display rate, decimated joint rows (retargeted robot joints too) and each
camera's newest frame to the live buffer; a feeder thread here reads that buffer as the window would and hands it
to `LiveRerun`, whose own thread logs to rerun through a bounded queue (dropping the oldest when rerun is slow).
Nothing here runs on the capture or writer threads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from apps.recorder.live import LiveReader
from apps.recorder.session_host import LivePublisher
from apps.rerunview.live import LiveRerun

log = logging.getLogger(__name__)

FEED_S = 0.05  # the window redraws at ~30/s; frames are the newest per camera at each feed


class HeadlessRerun:
    """Stream a headless session's live view to `save` (an .rrd file) until `close()`."""

    def __init__(self, session, save: str | Path) -> None:
        self.live = LiveRerun(save)  # fails here (one line) when rerun-sdk is missing
        self.pub = LivePublisher(session)
        self.reader = LiveReader(self.pub.writer.name, untrack=False)
        self.exo_names = list(session.joint_names)
        r = session.retargeter
        self.robot_names = list(r.robot_joint_names) if r is not None else []
        self.cameras = list(self.pub.cameras)
        self._head = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rerun-headless", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        rows, self._head = self.reader.rows_since(self._head)
        self.live.rows(rows, self.exo_names, self.robot_names)
        for k, cam in enumerate(self.cameras):
            fr = self.reader.frame(k)
            if fr is not None:
                self.live.frame(cam, fr.time, fr.jpeg)

    def _run(self) -> None:
        while not self._stop.wait(FEED_S):
            try:
                self._feed()
            except Exception:  # noqa: BLE001 - the viewer is a help: recording goes on
                log.exception("rerun headless feed")

    @property
    def logged(self) -> dict[str, int]:
        return dict(self.live.logged)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.pub.stop()
        try:
            self._feed()  # what was published last
        except Exception:  # noqa: BLE001
            log.debug("rerun headless last feed", exc_info=True)
        self.reader.close()
        self.pub.close()
        self.live.close()
