"""One hand model alone, seen by one calibrated wrist camera: MuJoCo offscreen render through the lens.

`HandView(model, intrinsics, T_wrist_cam)` compiles an MJCF whose world frame is the wrist frame (the hand
models' frame) with one camera at the mount. `set_joints(values)` poses the hand (mimic joints follow) and
`render()` gives the distorted RGB image, the hand's coverage as a linear alpha (for compositing) and as a
binary mask (nearest, as the simulated rig's segmentation is), plus a per-pixel part label.

The lens is the OpenCV model of the calibration (pinhole k1 k2 p1 p2 k3, or fisheye k1..k4, any K): the ideal
pinhole image is rendered on a canvas wide enough for the distortion, and every output pixel is traced back
through the lens (`cv2.undistortPoints`) and looked up (`cv2.remap`). With K centred and square pixels this is
exactly the simulated rig's lens (`dexumi.sim.lens`), so a render and the rig's truth line up pixel for pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.errors import DexumiError
from dexumi.sim.lens import canvas_half_size, undistorted_rays
from dexumi.visual.mount import Intrinsics


def _rays(intr: Intrinsics, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return undistorted_rays(np.asarray(intr.K), np.asarray(intr.dist), intr.model == "fisheye", u, v)


class LensMap:
    """The canvas to render (square pixels, focal = fy, centred) and the remap onto the camera's image."""

    def __init__(self, intr: Intrinsics) -> None:
        self.intr = intr
        w, h = intr.width, intr.height
        K = np.asarray(intr.K, np.float64)
        self.focal = float(K[1, 1])
        centred = abs(K[0, 2] - (w - 1) / 2) < 1e-6 and abs(K[1, 2] - (h - 1) / 2) < 1e-6
        self.identity = (
            intr.model == "pinhole" and not np.any(np.asarray(intr.dist)) and centred and abs(K[0, 0] - K[1, 1]) < 1e-9
        )
        if self.identity:
            self.cw, self.ch = w, h
            return
        f = self.focal
        half_w, half_h = canvas_half_size(w, h, f, lambda u, v: _rays(intr, u, v))
        self.cw, self.ch = int(math.ceil(half_w)) * 2, int(math.ceil(half_h)) * 2
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        rays = _rays(intr, u.ravel(), v.ravel())
        mx = (rays[:, 0] * f + (self.cw - 1) / 2.0).reshape(h, w).astype(np.float32)
        my = (rays[:, 1] * f + (self.ch - 1) / 2.0).reshape(h, w).astype(np.float32)
        self.map_x, self.map_y = mx, my
        self.map_i = cv2.convertMaps(mx, my, cv2.CV_16SC2)

    @property
    def fovy_deg(self) -> float:
        return math.degrees(2 * math.atan(self.ch / 2.0 / self.focal))

    def linear(self, img: np.ndarray) -> np.ndarray:
        if self.identity:
            return img
        return cv2.remap(img, self.map_i[0], self.map_i[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    def nearest(self, img: np.ndarray) -> np.ndarray:
        if self.identity:
            return img
        return cv2.remap(img, self.map_x, self.map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)


@dataclass
class HandModel:
    """MJCF of a hand alone (world = wrist frame) and how its joints are named and coupled."""

    name: str
    body_xml: list[str]
    asset_xml: list[str]
    assets: dict[str, bytes]
    joints: list[str]  # MJCF joint names of the moving joints
    couple: Callable[[dict[str, float]], dict[str, float]]  # {actuated name: value} -> {MJCF joint name: value}
    headlight: str = 'ambient="0.5 0.5 0.5" diffuse="0.6 0.6 0.6" specular="0.05 0.05 0.05"'
    slices: int = 10


def mjcf(model: HandModel) -> str:
    """The MJCF text: the simulated rig's render settings (no shadows/multisampling, same tessellation and
    headlight, so shading matches the rig's), the hand at the origin and one camera `cam`."""
    s = model.slices
    tess = f'numslices="{s}" numstacks="{max(4, s // 2)}" numquads="{max(1, s // 10)}"'
    x = [
        f'<mujoco model="{model.name}">',
        '  <compiler angle="radian"/>',
        f'  <visual><quality shadowsize="0" offsamples="0" {tess}/><global offwidth="2048" offheight="2048"/>'
        f'<headlight {model.headlight}/><map znear="0.005" zfar="50"/></visual>',
        "  <asset>",
        *("    " + a for a in model.asset_xml),
        "  </asset>",
        "  <worldbody>",
        '    <camera name="cam" pos="0 0 0" quat="1 0 0 0" fovy="60"/>',
        *("    " + line for line in model.body_xml),
        "  </worldbody>",
        "</mujoco>",
    ]
    return "\n".join(x) + "\n"


class HandView:
    """Renders `model` from a camera with intrinsics `intr` mounted at `T_wrist_cam` (OpenCV axes)."""

    def __init__(self, model: HandModel, intr: Intrinsics, T_wrist_cam: np.ndarray) -> None:
        from dexumi.sim.world import setup_gl

        setup_gl()
        import mujoco

        self.mj = mujoco
        self.hand = model
        self.lens = LensMap(intr)
        try:
            self.model = mujoco.MjModel.from_xml_string(mjcf(model), model.assets)
        except ValueError as exc:
            raise DexumiError(
                f"hand model '{model.name}' does not compile in MuJoCo: {str(exc).splitlines()[0]}"
            ) from None
        m = self.model
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, self.lens.cw)
        m.vis.global_.offheight = max(m.vis.global_.offheight, self.lens.ch)
        self.data = mujoco.MjData(m)
        self._qadr = {m.joint(i).name: int(m.jnt_qposadr[i]) for i in range(m.njnt)}
        m.cam_fovy[0] = self.lens.fovy_deg
        self.set_mount(T_wrist_cam)
        try:
            self._r = mujoco.Renderer(m, self.lens.ch, self.lens.cw)
        except Exception as exc:  # noqa: BLE001 - no GL context: one line naming MUJOCO_GL
            raise DexumiError(
                f"offscreen rendering unavailable (MUJOCO_GL={__import__('os').environ.get('MUJOCO_GL')}): "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        self.geom_label = np.zeros(m.ngeom + 1, np.uint8)
        mujoco.mj_forward(m, self.data)

    def close(self) -> None:
        self._r.close()

    def set_mount(self, T_wrist_cam: np.ndarray) -> None:
        """Camera pose in the wrist frame (4×4, OpenCV axes: x right, y down, z forward)."""
        T = np.asarray(T_wrist_cam, np.float64)
        R_mj = T[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        q = np.empty(4)
        self.mj.mju_mat2Quat(q, np.ascontiguousarray(R_mj).ravel())
        self.model.cam_pos[0] = T[:3, 3]
        self.model.cam_quat[0] = q
        self.T_wrist_cam = T.copy()

    def set_joints(self, values: dict[str, float]) -> None:
        """Actuated joint values by name (radians); mimic joints follow their couplings."""
        for name, v in self.hand.couple(values).items():
            a = self._qadr.get(name)
            if a is not None:
                self.data.qpos[a] = v
        self.mj.mj_kinematics(self.model, self.data)
        self.mj.mj_camlight(self.model, self.data)

    def canvas(self) -> np.ndarray:
        self._r.update_scene(self.data, "cam")
        return self._r.render()

    def render(self, mask: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(rgb uint8 H×W×3 premultiplied by coverage, alpha float32 H×W in [0, 1], mask bool H×W or None)."""
        c = self.canvas()
        # the background is black and every lit pixel of the hand is not (ambient light): coverage = gray > 0
        cover = cv2.threshold(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), 0, 255, cv2.THRESH_BINARY)[1]
        rgb = self.lens.linear(c)
        alpha = self.lens.linear(cover).astype(np.float32) * np.float32(1.0 / 255.0)
        return rgb, alpha, (self.lens.nearest(cover) > 0) if mask else None

    def labels(self) -> np.ndarray:
        """Per-pixel label (H×W uint8) of a flat-coloured (unlit) model: 0 nothing, 1 red geoms, 2 green ones."""
        c = self.canvas()
        red = cv2.threshold(cv2.extractChannel(c, 0), 127, 1, cv2.THRESH_BINARY)[1]
        green = cv2.threshold(cv2.extractChannel(c, 1), 127, 2, cv2.THRESH_BINARY)[1]
        return self.lens.nearest(cv2.bitwise_or(red, green))
