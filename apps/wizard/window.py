"""The wizard window: steps on the left; instructions, live joints, camera view with detected corners,
coverage map and results on the right; start, redo and save below. All logic lives in
`calibration.wizard_steps`; this only shows it and forwards clicks."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from calibration.profile import save_profile
from calibration.wizard_steps import CalibrationRun, Feedback, RunOptions, Step
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
MARK = {"pending": "·", "running": "▶", "done": "✓", "failed": "✗"}


def _pixmap(img: np.ndarray) -> QtGui.QPixmap:
    """A pixmap of a grey or BGR image (via PNG bytes: no Python buffer is shared with Qt)."""
    import cv2

    ok, buf = cv2.imencode(".png", img)
    pix = QtGui.QPixmap()
    if ok:
        pix.loadFromData(buf.tobytes(), "PNG")
    return pix


def joint_chart(
    angles: np.ndarray,
    target: np.ndarray | None,
    names: tuple[str, ...] = (),
    width: int = 640,
    height: int = 180,
    low_deg: float = -30.0,
    high_deg: float = 120.0,
) -> np.ndarray:
    """Bars of the live joint angles (cyan), the pose's reference angles (yellow ticks), names under them."""
    import cv2

    img = np.full((height, width, 3), 30, np.uint8)
    n = max(1, len(angles))
    plot_h = height - 22
    y = lambda deg: int(round(plot_h * (high_deg - np.clip(deg, low_deg, high_deg)) / (high_deg - low_deg)))
    cv2.line(img, (0, y(0.0)), (width, y(0.0)), (90, 90, 90), 1)
    cw = width / n
    for j, a in enumerate(np.degrees(angles)):
        x0, x1 = int(j * cw + 0.2 * cw), int((j + 1) * cw - 0.2 * cw)
        cv2.rectangle(img, (x0, min(y(0.0), y(a))), (x1, max(y(0.0), y(a))), (200, 200, 0), -1)
        if target is not None:
            t = y(float(np.degrees(target[j])))
            cv2.line(img, (x0 - 3, t), (x1 + 3, t), (0, 220, 255), 2)
        label = names[j].replace("exo_", "")[:10] if j < len(names) else str(j)
        cv2.putText(img, label, (x0, height - 6), cv2.FONT_HERSHEY_PLAIN, 0.8, (220, 220, 220), 1)
        cv2.putText(
            img, f"{a:.0f}", (x0, max(12, min(y(a), y(0.0)) - 3)), cv2.FONT_HERSHEY_PLAIN, 0.8, (220, 220, 220), 1
        )
    return img


class CalibrationWizard(QtWidgets.QWidget):
    """Runs a `CalibrationRun` step by step. `auto`: start each step as soon as the previous one is done
    (what `--sim` does, since the emulator plays the poses by itself)."""

    finished_all = QtCore.Signal()

    def __init__(
        self,
        options: RunOptions,
        out: Path | None = None,
        force: bool = False,
        auto: bool = False,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("dexumi calibration")
        self.options, self.out, self.force, self.auto = options, out, force, auto
        self.run = CalibrationRun(options)
        self.state = {s.key: "pending" for s in self.run.steps}
        self.queue: list[Step] = []
        self.current: Step | None = None
        self.saved_path: Path | None = None
        self.opened = False
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(40)
        self.timer.timeout.connect(self._tick)

    # ------------------------------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.steps = QtWidgets.QListWidget()
        self.steps.setMaximumWidth(260)
        for s in self.run.steps:
            self.steps.addItem(f"{MARK['pending']} {s.title}")
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet("font-size: 16pt; font-weight: bold")
        self.instructions = QtWidgets.QLabel()
        self.instructions.setWordWrap(True)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel()
        self.plot = QtWidgets.QLabel("joints")  # drawn with OpenCV: pyqtgraph item updates crash PySide6 6.12 at exit
        self.plot.setMinimumHeight(180)
        self.image = QtWidgets.QLabel("camera")
        self.image.setMinimumSize(320, 240)
        self.image.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.coverage = QtWidgets.QLabel("coverage")
        self.coverage.setMinimumSize(160, 120)
        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.start_btn = QtWidgets.QPushButton("Start step")
        self.redo_btn = QtWidgets.QPushButton("Redo step")
        self.save_btn = QtWidgets.QPushButton("Save profile")
        self.save_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start_selected)
        self.redo_btn.clicked.connect(self.redo_selected)
        self.save_btn.clicked.connect(self.save)
        views = QtWidgets.QHBoxLayout()
        views.addWidget(self.image, 3)
        views.addWidget(self.coverage, 1)
        right = QtWidgets.QVBoxLayout()
        for w in (self.title, self.instructions, self.progress, self.status, self.plot):
            right.addWidget(w)
        right.addLayout(views)
        right.addWidget(self.log)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start_btn, self.redo_btn, self.save_btn):
            buttons.addWidget(b)
        right.addLayout(buttons)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.steps)
        top.addLayout(right, 1)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addLayout(self._device_row())
        outer.addLayout(top, 1)
        self.steps.currentRowChanged.connect(self._show_step)
        self.steps.setCurrentRow(0)

    def _device_row(self) -> QtWidgets.QHBoxLayout:
        """The encoder board to calibrate: `sim` or a serial/BLE port (found ones listed, any typed one works);
        fixed once the devices are open, preset (and locked) by --sim/--port."""
        from apps.recorder.setup_panel import SIM, serial_choices

        self.device = QtWidgets.QComboBox(editable=True)
        given = SIM if self.options.sim else self.options.port
        choices = [given] if given else []
        self.device.addItems(list(dict.fromkeys([*choices, *serial_choices(), SIM])))
        self.device.setCurrentIndex(0)
        self.device.setToolTip(
            "encoder board: sim (simulated exoskeleton), /dev/ttyACM0, /dev/serial/by-id/..., ble:NAME"
        )
        self.device.setEnabled(not given)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Device"))
        row.addWidget(self.device, 1)
        return row

    def _show_step(self, row: int) -> None:
        if 0 <= row < len(self.run.steps):
            s = self.run.steps[row]
            self.title.setText(s.title)
            self.instructions.setText(s.instructions)

    def _mark(self, step: Step, state: str) -> None:
        self.state[step.key] = state
        row = self.run.steps.index(step)
        self.steps.item(row).setText(f"{MARK[state]} {step.title}")

    # -------------------------------------------------------------------------------------- control
    def open_devices(self) -> bool:
        """Open the chosen device; a failure is one line in the log and the status (never a traceback)."""
        if self.opened:
            return True
        choice = self.device.currentText().strip()
        if not choice:
            self._say("choose the encoder board in Device (sim for the simulated exoskeleton) first")
            return False
        self.options.sim = self.options.sim or choice == "sim"
        self.options.port = None if self.options.sim else choice
        self.auto = self.auto or self.options.sim  # the simulated hand plays every pose by itself
        try:
            self.run.open()
        except DexumiError as exc:
            self.run.close()
            self.run = CalibrationRun(self.options)  # a clean run for the next attempt (same steps)
            self._say(f"cannot open {choice}: {exc}")
            return False
        except Exception as exc:
            log.exception("opening %s", choice)
            self.run.close()
            self.run = CalibrationRun(self.options)
            self._say(f"cannot open {choice}: {type(exc).__name__}: {exc}")
            return False
        self.opened = True
        self.device.setEnabled(False)
        self.timer.start()
        return True

    def _say(self, message: str) -> None:
        self.status.setText(message)
        self.log.appendPlainText(f"✗ {message}")

    def start_all(self) -> None:
        if not self.open_devices():
            return
        self.queue = [s for s in self.run.steps if self.state[s.key] != "done"]
        self._next()

    def start_selected(self) -> None:
        if not self.open_devices():
            return
        row = max(0, self.steps.currentRow())
        if self.current is None:
            self.queue = [self.run.steps[row]] + (self.run.steps[row + 1 :] if self.auto else [])
            self._next()

    def redo(self, key: str) -> None:
        """Redo one step and the steps that depend on it."""
        if not self.open_devices():
            return
        step = self.run.step(key)
        again = [step, *self.run.dependents(key)]
        for s in again:
            s.reset()
            self._mark(s, "pending")
        self.save_btn.setEnabled(False)
        self.queue = again + [s for s in self.queue if s not in again]
        if self.current is None:
            self._next()

    def redo_selected(self) -> None:
        self.redo(self.run.steps[max(0, self.steps.currentRow())].key)

    def _next(self) -> None:
        self.current = None
        while self.queue:
            step = self.queue.pop(0)
            self.steps.setCurrentRow(self.run.steps.index(step))
            try:
                step.begin(self.run)
            except DexumiError as exc:
                self._fail(step, str(exc))
                continue
            self.current = step
            self._mark(step, "running")
            return
        if all(v == "done" for v in self.state.values()):
            self.save_btn.setEnabled(True)
            self.status.setText("all steps done: save the profile")
            self.finished_all.emit()

    def _fail(self, step: Step, message: str) -> None:
        step.error = message
        self._mark(step, "failed")
        self.log.appendPlainText(f"✗ {step.title}: {message}  (select it and press Redo)")
        self.queue = [s for s in self.queue if s.key not in {d.key for d in self.run.dependents(step.key)}]

    def _tick(self) -> None:
        self.run.poll()
        step = self.current
        if step is None:
            return
        try:
            fb = step.update(self.run)
            self._show_feedback(fb)
            if step.done():
                self.run.poll()
                summary = step.finish(self.run)
                self._mark(step, "done")
                self.log.appendPlainText(f"✓ {summary}")
                if step.key == "jointmap":
                    self.log.appendPlainText(residual_text(step))
                if self.auto or self.queue:
                    self._next()
                else:
                    self.current = None
        except DexumiError as exc:
            self._fail(step, str(exc))
            self._next()

    def _show_feedback(self, fb: Feedback) -> None:
        self.progress.setValue(int(100 * fb.progress))
        self.status.setText(fb.message)
        angles = fb.data.get("angles")
        if angles is not None:
            self.plot.setPixmap(_pixmap(joint_chart(angles, fb.data.get("target"), fb.data.get("joints", ()))))
        img = fb.data.get("image")
        if img is not None:
            from calibration.camera import draw_detection

            shown = draw_detection(img, fb.data.get("detection"))
            self.image.setPixmap(_pixmap(shown).scaled(self.image.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio))
        occ = fb.data.get("occupancy")
        if occ is not None:
            import cv2

            heat = np.clip(occ * 60, 0, 255).astype(np.uint8)
            heat = cv2.resize(heat, (160, 120), interpolation=cv2.INTER_NEAREST)
            self.coverage.setPixmap(_pixmap(cv2.applyColorMap(heat, cv2.COLORMAP_VIRIDIS)))

    # ------------------------------------------------------------------------------------------ save
    def save(self) -> Path | None:
        out = self.out
        if out is None:
            name, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, "Save calibration profile", "profile.yaml", "YAML (*.yaml *.yml)"
            )
            if not name:
                return None
            out, self.force = Path(name), True  # the dialog already asked about overwriting
        try:
            mapping = None
            jm = next((s for s in self.run.steps if s.key == "jointmap" and s.result is not None), None)
            if jm is not None:
                mp = out.with_name(out.stem + ".map.yaml")
                jm.result.write(mp)
                mapping = mp.name
            save_profile(self.run.profile(mapping), out, overwrite=self.force)
        except DexumiError as exc:
            self.log.appendPlainText(f"✗ save: {exc}")
            return None
        self.saved_path = out
        self.log.appendPlainText(f"✓ profile written to {out}")
        return out

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.timer.stop()
        self.run.close()
        self.opened = False


def residual_text(step: Step) -> str:
    """Per-joint residuals of the joint map, for display."""
    if step.result is None or not hasattr(step.result, "fits"):
        return ""
    return "\n".join(
        f"{f.robot:20s} RMS {math.degrees(f.rms_rad):6.2f}°  max {math.degrees(f.max_rad):6.2f}°"
        for f in step.result.fits
    )
