"""The calibration wizard's `--sim` camera where the simulated 3D rig renders: the world's `wrist0` (pinhole
with its barrel distortion) following the world's `calibration` wrist script, which views the ChArUco board
on the table from a dozen viewpoints. `views` frames are taken evenly over the script (held views and the
moves between them, so the board is seen from more poses than the dozen holds), one per `read()`; the source
then ends. `lens` is the camera's true intrinsics (what a calibration must recover), in the form of the flat
board simulator's `Lens`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from calibration.boardsim import Lens
from dexumi.devices.cameras.base import CameraSettings, CameraSource
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame

if TYPE_CHECKING:
    from dexumi.sim.render import CameraRenderer
    from dexumi.sim.world import World


class WorldBoardCamera(CameraSource):
    """`views` BGR frames of the world's board, seen by wrist camera `wrist0` (a finite source)."""

    counts_frames = True
    device_time_is_host_clock = True

    def __init__(
        self, name: str = "wrist0", serial: str = "SIM-CAM-0001", views: int = 24, seed: int = 0, fps: float = 10.0
    ) -> None:
        super().__init__(name, f"world-board:{serial}")
        self.serial, self.views, self.seed, self.fps = serial, max(int(views), 1), seed, fps
        from dexumi.sim.scene import default_cameras

        self.camera = default_cameras(640, 480, 1)[0]
        K = self.camera.K()
        self.lens = Lens(
            self.camera.width,
            self.camera.height,
            float(K[0, 0]),
            float(K[1, 1]),
            float(K[0, 2]),
            float(K[1, 2]),
            tuple(float(x) for x in self.camera.dist()),
            "pinhole",
        )
        self._world: World | None = None
        self._renderer: CameraRenderer | None = None
        self._times = np.zeros(0)
        self._k, self._t0 = 0, 0.0

    def open(self) -> WorldBoardCamera:
        from dexumi.sim.scene import SceneConfig
        from dexumi.sim.world import World, WorldConfig

        world = World(WorldConfig(scene=SceneConfig(cameras=[self.camera]), script="calibration", seed=self.seed))
        self._world = world
        self._renderer = world.renderer(self.camera.name, seed=self.seed)
        period = world.trajectory.period
        self._times = (np.arange(self.views) + 0.5) * period / self.views
        self.granted = CameraSettings(self.camera.width, self.camera.height, self.fps, "MJPG")
        self._k, self._t0 = 0, time.monotonic()
        self.opened = True
        return self

    def read(self) -> CameraFrame | None:
        if not self.opened or self._world is None or self._renderer is None:  # open() sets all three
            raise DexumiError(f"camera {self.spec!r} is not open")
        if self._k >= len(self._times):
            return None
        self._world.set_time(float(self._times[self._k]))
        img = self._renderer.bgr(self._k)
        due = self._t0 + self._k / self.fps
        frame = CameraFrame(self.name, self._k, time.monotonic(), img, "bgr", img.shape[1], img.shape[0], due)
        self._k += 1
        return frame

    def T_camera_board(self) -> np.ndarray:
        """The board's true pose in the camera (OpenCV axes) at the frame last read."""
        w = self._world
        assert w is not None, "open the camera first"
        return np.linalg.inv(w.camera_pose(self.camera.name)) @ w.config.scene.board.T_world_board()

    def close(self) -> None:
        self.opened = False
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def world_board_wanted() -> bool:
    """Whether `--sim` films the board in the 3D world: where offscreen rendering works, unless
    DEXUMI_SIM_CAMERA=flat; otherwise one line says why and the flat board simulator is used."""
    import logging
    import os

    choice = os.environ.get("DEXUMI_SIM_CAMERA", "")
    if choice == "flat":
        return False
    from dexumi.devices.cameras.world import world_available

    ok, why = world_available()
    if not ok:
        if choice == "world":
            raise DexumiError(f"--sim world camera: {why}")
        logging.getLogger(__name__).warning(
            "--sim: the board is filmed by the flat board simulator, not the 3D world: %s", why
        )
    return ok
