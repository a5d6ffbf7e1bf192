"""`dexumi record --rerun`: the live session streamed to a rerun viewer, off the capture path.

Capture and writing run in the session process; the recorder window already reads joints and the newest
camera frames from shared memory to draw them. `LiveRerun` takes what the window drew, puts it on a bounded
queue (dropping the oldest when the viewer is slow — never blocking the window) and a thread logs it to
rerun: `live/joints/exo/<name>`, `live/joints/robot/<name>` (Scalars), `live/cameras/<cam>` (EncodedImage),
on the `time` timeline (recording clock, seconds). Target: a spawned viewer, or an .rrd file.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

import numpy as np

from apps.rerunview.episode import APP_ID, require_rerun

log = logging.getLogger(__name__)


class LiveRerun:
    def __init__(self, save: str | Path | None = None, max_items: int = 256) -> None:
        rr = require_rerun()
        self.rr = rr
        self.rec = rr.RecordingStream(f"{APP_ID}-live")
        if save:
            self.rec.save(str(save))
        else:
            self.rec.spawn()
        self.q: queue.Queue = queue.Queue(max_items)
        self.dropped = 0
        self.logged = {"rows": 0, "frames": 0}
        self._thread = threading.Thread(target=self._run, name="rerun-live", daemon=True)
        self._thread.start()

    def _put(self, item: tuple) -> None:
        try:
            self.q.put_nowait(item)
        except queue.Full:
            try:
                self.q.get_nowait()
                self.dropped += 1
            except queue.Empty:
                pass
            self.q.put_nowait(item)

    def rows(self, rows: np.ndarray, exo_names: list[str], robot_names: list[str]) -> None:
        if len(rows):
            self._put(("rows", np.array(rows, copy=True), list(exo_names), list(robot_names)))

    def frame(self, camera: str, time_s: float, jpeg: bytes) -> None:
        self._put(("frame", camera, float(time_s), bytes(jpeg)))

    def _run(self) -> None:
        rr, rec = self.rr, self.rec
        while True:
            item = self.q.get()
            if item is None:
                return
            try:
                if item[0] == "rows":
                    _, rows, exo, robot = item
                    idx = [rr.TimeColumn("time", duration=rows[:, 0])]
                    c = len(exo)
                    for j, name in enumerate(exo):
                        rr.send_columns(
                            f"live/joints/exo/{name}",
                            indexes=idx,
                            columns=rr.Scalars.columns(scalars=rows[:, 1 + j]),
                            recording=rec,
                        )
                    for j, name in enumerate(robot):
                        if 1 + c + j < rows.shape[1]:
                            rr.send_columns(
                                f"live/joints/robot/{name}",
                                indexes=idx,
                                columns=rr.Scalars.columns(scalars=rows[:, 1 + c + j]),
                                recording=rec,
                            )
                    self.logged["rows"] += len(rows)
                else:
                    _, cam, t, jpeg = item
                    rr.set_time("time", duration=t, recording=rec)
                    rr.log(
                        f"live/cameras/{cam}", rr.EncodedImage(contents=jpeg, media_type="image/jpeg"), recording=rec
                    )
                    self.logged["frames"] += 1
            except Exception as exc:  # noqa: BLE001 - the viewer is a help: log and go on
                log.warning("rerun live: %s", exc)

    def close(self) -> None:
        self.q.put(None)
        self._thread.join(timeout=5)
        try:
            self.rec.flush()
            self.rec.disconnect()
        except Exception as exc:  # noqa: BLE001 - the viewer is a help: log and go on
            log.warning("rerun live close: %s", exc)
