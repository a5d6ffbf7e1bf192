"""Camera intrinsics from ChArUco board views (a live camera, photos, or the simulated board camera)."""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.wizard_steps.base import Feedback, RunOptions, Step
from dexumi.errors import DexumiError
from dexumi.vocab import FrameEncoding

if TYPE_CHECKING:
    from calibration.camera import Detection
    from calibration.profile import Profile
    from calibration.wizard_steps.run import CalibrationRun
    from dexumi.devices.cameras.base import CameraSource


class CameraStep(Step):
    key = "camera"
    title = "Camera intrinsics"

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options
        self.instructions = (
            f"Show the printed ChArUco board ({options.board.squares_x}×{options.board.squares_y}, "
            f"{options.board.square_mm:g} mm squares) to the camera at many positions and angles, "
            "filling the corners of the image too, until the coverage map is full."
        )
        self.detections: list = []
        self.size: tuple[int, int] | None = None
        self.last_image: np.ndarray | None = None
        self.last_detection: Detection | None = None
        self._source: CameraSource | None = None
        self._files: list[str] = []
        self._next_grab = 0.0

    def begin(self, run: CalibrationRun) -> None:
        from calibration.camera import BoardDetector

        super().begin(run)
        o = self.options
        self.detector = BoardDetector(o.board)
        self.detections, self.size, self.last_image, self.last_detection = [], None, None, None
        self.serial = o.camera_serial or o.camera or "camera"
        if o.board_images:
            self._files = sorted(glob.glob(o.board_images))
            if not self._files:
                raise DexumiError(f"no board images match {o.board_images!r}")
            self.serial = o.camera_serial or Path(self._files[0]).parent.name
        elif run.options.sim and run.sim_world_board:
            from calibration.worldboard import WorldBoardCamera

            world_cam = WorldBoardCamera(
                o.camera_name, o.camera_serial or "SIM-CAM-0001", max(o.camera_views, 1), o.sim_seed
            ).open()
            self._source = world_cam
            self.serial = world_cam.serial
        elif run.options.sim:
            from calibration.boardsim import BoardSimCamera, BoardSimConfig

            assert run.sim_lens is not None, "--sim: the run sets the simulated lens when it opens"
            board_cam = BoardSimCamera(
                BoardSimConfig(
                    o.camera_name,
                    o.camera_serial or "SIM-CAM-0001",
                    run.sim_lens,
                    o.board,
                    max(o.camera_views, 1),
                    40.0,
                    o.sim_seed,
                )
            ).open()
            self._source = board_cam
            self.serial = board_cam.serial
        elif o.camera:
            from dexumi.devices.cameras.spec import open_camera

            self._source = open_camera(o.camera)
            self.duration_s = max(self.duration_s, 30.0)
        else:
            raise DexumiError(
                "camera intrinsics need --camera SPEC or --board-images GLOB (or --sim, or --skip camera)"
            )
        self.t1 = self.t0 + (self.duration_s if self._source is not None and not run.options.sim else 1e9)

    def _ingest(self, image: np.ndarray) -> None:
        import cv2

        if image.ndim == 1:  # JPEG bytes as an array
            decoded = cv2.imdecode(image, cv2.IMREAD_GRAYSCALE)
            assert decoded is not None, "the camera sent bytes that do not decode as an image"
            image = decoded
        self.size = (image.shape[1], image.shape[0])
        det = self.detector.detect(image)
        self.last_image, self.last_detection = image, det
        if det is not None:
            self.detections.append(det)

    def update(self, run: CalibrationRun) -> Feedback:
        from calibration.camera import coverage, occupancy

        if self._files:
            import cv2

            path = self._files.pop(0)
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise DexumiError(f"{path}: not an image")
            self._ingest(img)
        elif self._source is not None:
            now = time.monotonic()
            if now >= self._next_grab:
                frame = self._source.read()
                if frame is None:
                    self._source.close()
                    self._source = None
                else:
                    if frame.encoding == FrameEncoding.BGR:
                        assert isinstance(frame.data, np.ndarray), "a BGR frame carries the decoded image"
                        data = frame.data
                    else:
                        data = np.frombuffer(frame.data, np.uint8)
                    self._ingest(data)
                    self._next_grab = now + (0.0 if run.options.sim else 0.3)
        occ = occupancy(self.detections, self.size) if self.size else np.zeros((6, 8), int)
        p = min(1.0, len(self.detections) / max(1, self.options.min_views))
        return Feedback(
            p,
            f"{len(self.detections)} views, coverage {100 * coverage(occ):.0f}%",
            {"image": self.last_image, "detection": self.last_detection, "occupancy": occ},
        )

    def done(self) -> bool:
        if self._files:
            return False
        if self._source is None:
            return True
        return time.monotonic() >= self.t1

    def finish(self, run: CalibrationRun) -> str:
        from calibration.camera import calibrate

        if self._source is not None:
            self._source.close()
            self._source = None
        if self.size is None:
            raise DexumiError("camera intrinsics: no images were captured")
        o = self.options
        self.result = calibrate(
            self.detections,
            self.size,
            o.camera_model,
            min_views=o.min_views,
            min_coverage=o.min_coverage,
            serial=self.serial,
        )
        self.summary = f"camera {self.serial}: {self.result.summary()}"
        return self.summary

    def contribute(self, profile: Profile, report: dict[str, Any], run: CalibrationRun) -> None:
        if self.result is not None:
            profile.cameras[self.result.serial] = self.result.intrinsics()
            profile.device.setdefault("cameras", {})[self.options.camera_name] = self.result.serial
