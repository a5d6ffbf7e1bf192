"""The MJCF text of the simulated rig: table, textured objects, ChArUco board, AprilTag markers, a forearm and
hand wearing the exoskeleton (geometry from `dexumi.hands.author`), and the wrist cameras.

Everything is generated here from dataclasses, so a scene is a pure function of its `SceneConfig`. Geom
names carry their segmentation class as a prefix (`exo:`, `hand:`, `tip:`, `object:`, `board`, `marker:`,
`table`, `floor`, `forearm`), which `dexumi.sim.world.SEG_CLASSES` maps to part ids.

Frames: world z up, metres. The wrist frame is the hand models' frame (+z wrist→fingers, +y thumb side,
+x out of the palm). A MuJoCo camera looks along its −z with +y up; `CameraSpec.T_wrist_cam` is returned in
the OpenCV convention (x right, y down, z forward), which is what `solvePnP` and calibration speak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from dexumi.board import BoardSpec
from dexumi.hands import author

TABLE_TOP = 0.75  # m above the floor
TABLE_HALF = (0.45, 0.35, TABLE_TOP / 2)


@dataclass(frozen=True)
class BoardConfig:
    """The ChArUco board lying on the table: its layout (the printed calibration board's default), where it lies
    and its texture's resolution."""

    spec: BoardSpec = BoardSpec()
    centre: tuple[float, float] = (-0.12, 0.02)  # on the table top (x, y), m
    px_per_square: int = 120

    def image(self) -> np.ndarray:
        return self.spec.image(self.px_per_square)

    def T_world_board(self) -> np.ndarray:
        """Board frame (OpenCV board coordinates: origin at the top-left corner, x along the squares, y down the
        image, z into the board) in the world: the board lies face up, its image's top edge towards +y."""
        w, h = self.spec.size_m
        T = np.eye(4)
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # board x = world x, board y = world −y, board z = down
        T[:3, 3] = (self.centre[0] - w / 2, self.centre[1] + h / 2, TABLE_TOP + 0.001)
        return T


@dataclass(frozen=True)
class MarkerConfig:
    """An AprilTag (36h11) lying on the table: id, centre (x, y), side length (m)."""

    tag_id: int
    centre: tuple[float, float]
    size_m: float = 0.04


@dataclass(frozen=True)
class ObjectConfig:
    """A textured object on the table: box (half sizes), cylinder (radius, half height) or sphere (radius)."""

    name: str
    shape: str
    size: tuple[float, ...]
    xy: tuple[float, float]
    rgb1: tuple[float, float, float]
    rgb2: tuple[float, float, float]
    texture: str = "checker"  # MuJoCo builtin: checker | gradient | flat

    @property
    def half_height(self) -> float:
        return self.size[0] if self.shape == "sphere" else self.size[-1]


def _rot_to_xyaxes(R: np.ndarray) -> str:
    return " ".join(f"{v:.9g}" for v in (*R[:, 0], *R[:, 1]))


def look_rotation(forward: np.ndarray, up: np.ndarray) -> np.ndarray:
    """OpenCV camera rotation (columns x right, y down, z forward) looking along `forward` with `up` up."""
    z = np.asarray(forward, float) / np.linalg.norm(forward)
    x = np.cross(z, np.asarray(up, float))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


@dataclass(frozen=True)
class CameraSpec:
    """A wrist camera: image size, vertical field of view, lens, and its rigid mount in the wrist frame.

    `lens` pinhole (OpenCV k1 k2 p1 p2 k3) or fisheye (OpenCV fisheye k1..k4); the distortion is applied to
    the rendered image as a real lens would (see `dexumi.sim.lens`); `canvas_scale` < 1 renders the lens's
    ideal pinhole canvas coarser (fewer pixels, the same geometry; a fisheye's canvas is mostly periphery,
    which stays at least as fine as the image). `mount_xyz` in the wrist frame;
    `mount_tilt_deg` tilts the view from the fingers' direction (+z) towards the palm side (+x)."""

    name: str = "wrist0"
    width: int = 640
    height: int = 480
    fovy_deg: float = 62.0
    lens: str = "pinhole"
    distortion: tuple[float, ...] = ()
    mount_xyz: tuple[float, float, float] = (-0.10, 0.0, -0.06)
    mount_tilt_deg: float = 28.0
    mount_yaw_deg: float = 0.0
    canvas_scale: float = 1.0  # < 1: render the lens's ideal canvas at this fraction of the focal length

    @property
    def focal_px(self) -> float:
        return self.height / 2.0 / math.tan(math.radians(self.fovy_deg) / 2.0)

    def K(self) -> np.ndarray:
        """The intrinsic matrix (OpenCV: pixel centres at integers)."""
        f = self.focal_px
        return np.array([[f, 0.0, (self.width - 1) / 2.0], [0.0, f, (self.height - 1) / 2.0], [0.0, 0.0, 1.0]])

    def dist(self) -> np.ndarray:
        n = 4 if self.lens == "fisheye" else 5
        d = np.zeros(n)
        d[: len(self.distortion)] = self.distortion[:n]
        return d

    def T_wrist_cam(self) -> np.ndarray:
        """Camera pose in the wrist frame, OpenCV axes."""
        a, b = math.radians(self.mount_tilt_deg), math.radians(self.mount_yaw_deg)
        forward = np.array([math.sin(a), math.sin(b) * math.cos(a), math.cos(a) * math.cos(b)])
        T = np.eye(4)
        T[:3, :3] = look_rotation(forward, up=np.array([-1.0, 0.0, 0.0]))
        T[:3, 3] = self.mount_xyz
        return T


def default_cameras(width: int = 640, height: int = 480, count: int = 2) -> list[CameraSpec]:
    """wrist0: pinhole with mild barrel distortion; wrist1: a wider fisheye beside it, yawed a little (its
    canvas at 0.8 of the focal length: 0.8 canvas pixels per image pixel in the centre, ≥ 1 beyond ~27°)."""
    cams = [
        CameraSpec(
            "wrist0", width, height, 62.0, "pinhole", (-0.08, 0.02, 0.0, 0.0, 0.0), (-0.10, 0.012, -0.06), 30.0, 0.0
        ),
        CameraSpec(
            "wrist1",
            width,
            height,
            80.0,
            "fisheye",
            (0.05, -0.01, 0.0, 0.0),
            (-0.10, -0.022, -0.055),
            28.0,
            -6.0,
            canvas_scale=0.8,
        ),
    ]
    return cams[:count]


def default_objects() -> list[ObjectConfig]:
    return [
        ObjectConfig("cube", "box", (0.025, 0.025, 0.025), (0.12, -0.04), (0.85, 0.25, 0.15), (0.95, 0.85, 0.2)),
        ObjectConfig("can", "cylinder", (0.03, 0.05), (0.24, 0.14), (0.15, 0.45, 0.85), (0.9, 0.9, 0.95), "gradient"),
        ObjectConfig("ball", "sphere", (0.03,), (0.02, 0.2), (0.2, 0.75, 0.3), (0.1, 0.3, 0.1)),
    ]


def default_markers() -> list[MarkerConfig]:
    return [
        MarkerConfig(0, (-0.33, -0.22)),
        MarkerConfig(1, (0.33, -0.22)),
        MarkerConfig(2, (-0.33, 0.25)),
        MarkerConfig(3, (0.33, 0.25)),
    ]


@dataclass
class SceneConfig:
    """What is in the world. `hand`: the bundled exoskeleton model the operator wears."""

    hand: str = "inspire_exo"
    cameras: list[CameraSpec] = field(default_factory=default_cameras)
    objects: list[ObjectConfig] = field(default_factory=default_objects)
    markers: list[MarkerConfig] = field(default_factory=default_markers)
    board: BoardConfig = field(default_factory=BoardConfig)
    slices: int = 10  # tessellation of round geoms (MuJoCo numslices); finer costs render time
    shadows: bool = False  # True: MuJoCo's default quality (shadows, multisampling): many times slower on CPU
    # "human": the operator's hand wearing the exoskeleton; "robot": the robot hand `robot` (a bundled name or a
    # URDF path) mounted at the wrist instead, no hand, exoskeleton or forearm (the visual bridge's truth)
    embodiment: str = "human"
    robot: str = "inspire_like"


def tag_image(tag_id: int, px: int = 200) -> np.ndarray:
    """An AprilTag 36h11 with a white border of one cell (so detectors find its black frame)."""
    d = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11)
    cells = 10  # 6 data + 2 black border, plus 1 white each side
    img = cv2.aruco.generateImageMarker(d, tag_id, px * 8 // cells)
    pad = (px - img.shape[0]) // 2
    return cv2.copyMakeBorder(
        img, pad, px - img.shape[0] - pad, pad, px - img.shape[0] - pad, cv2.BORDER_CONSTANT, value=255
    )


def _png(img: np.ndarray) -> bytes:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def _hand_spec(name: str) -> author.HandSpec:
    specs = author.bundled_specs()
    if name not in specs:
        raise ValueError(f"unknown bundled hand {name!r} (one of {', '.join(specs)})")
    return specs[name]


def _v(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in v)


SKIN = "0.86 0.68 0.56 1"
EXO = "0.12 0.12 0.14 1"
EXO_ACCENT = "0.95 0.45 0.05 1"
HAND_CONTACT = 'contype="2" conaffinity="0" condim="3"'
OBJECT_CONTACT = 'contype="0" conaffinity="2"'
NO_CONTACT = 'contype="0" conaffinity="0"'


def _finger_bodies(finger: author.Finger, rods: dict[str, author.Segment], indent: str) -> list[str]:
    """Nested bodies of one finger: a skin capsule per link, an exoskeleton bar on its back, a tip sphere."""
    out: list[str] = []
    closers: list[str] = []
    for k, j in enumerate(finger.joints):
        link = f"{j.name}_link"
        seg = rods[link]
        end = np.asarray(seg.end)
        pad = indent + "  " * k
        out.append(f'{pad}<body name="{link}" pos="{_v(j.xyz)}">')
        out.append(
            f'{pad}  <joint name="{j.name}" type="hinge" axis="{_v(j.axis)}" range="{j.lower:.9g} '
            f'{j.upper:.9g}" limited="true"/>'
        )
        if np.linalg.norm(end) > 1e-9:
            out.append(
                f'{pad}  <geom name="hand:{link}" type="capsule" fromto="0 0 0 {_v(end)}" size="{seg.radius:.9g}" '
                f'rgba="{SKIN}" {HAND_CONTACT}/>'
            )
            # the exoskeleton's link: a bar on the back of the finger (-x), from 15 % to 85 % of the link
            back = np.array([-(seg.radius + 0.0032), 0.0, 0.0])
            a, b = back + 0.15 * end, back + 0.85 * end
            out.append(
                f'{pad}  <geom name="exo:{link}" type="capsule" fromto="{_v(a)} {_v(b)}" size="0.0034" '
                f'rgba="{EXO}" {NO_CONTACT}/>'
            )
            out.append(
                f'{pad}  <geom name="exo:{link}:enc" type="cylinder" pos="{_v(back * 1.15)}" '
                f'size="0.0052 0.004" euler="1.5708 0 0" rgba="{EXO_ACCENT}" {NO_CONTACT}/>'
            )
        closers.insert(0, f"{pad}</body>")
    pad = indent + "  " * len(finger.joints)
    r = rods[f"{finger.joints[-1].name}_link"].radius
    out.append(f'{pad}<site name="{finger.name}_tip" pos="{_v(finger.tip)}" size="0.002"/>')
    out.append(
        f'{pad}<geom name="tip:{finger.name}" type="sphere" pos="{_v(finger.tip)}" size="{r:.9g}" '
        f'rgba="{SKIN}" {HAND_CONTACT}/>'
    )
    return out + closers


def build_mjcf(cfg: SceneConfig) -> tuple[str, dict[str, bytes]]:
    """(MJCF text, assets {file name: bytes}) of the scene; pass both to `mujoco.MjModel.from_xml_string`."""
    spec = _hand_spec(cfg.hand)
    if cfg.embodiment not in ("human", "robot"):
        raise ValueError(f"embodiment must be human or robot, not {cfg.embodiment!r}")
    robot = None
    if cfg.embodiment == "robot":
        from dexumi.hands import registry
        from dexumi.sim.urdf_mjcf import hand_bodies

        robot = hand_bodies(registry.resolve(cfg.robot), "robot:")
    assets = {"board.png": _png(cfg.board.image())}
    for m in cfg.markers:
        assets[f"tag{m.tag_id}.png"] = _png(tag_image(m.tag_id))
    offw = max([c.width for c in cfg.cameras] + [640]) * 2
    offh = max([c.height for c in cfg.cameras] + [480]) * 2
    # on llvmpipe the settings decide the speed: shadows and multisampling off, coarse tessellation, one light
    # (shadows=True: MuJoCo's defaults, with a shadow-casting light: the benchmark's baseline)
    tess = f'numslices="{cfg.slices}" numstacks="{max(4, cfg.slices // 2)}" numquads="{max(1, cfg.slices // 10)}"'
    quality = "" if cfg.shadows else f'<quality shadowsize="0" offsamples="0" {tess}/>'
    x = [
        '<mujoco model="dexumi_world">',
        '  <compiler angle="radian"/>',
        '  <option gravity="0 0 0" timestep="0.002"/>',
        f'  <visual>{quality}<global offwidth="{offw}" offheight="{offh}"/>'
        '<headlight ambient="0.5 0.5 0.5" diffuse="0.6 0.6 0.6" specular="0.05 0.05 0.05"/>'
        '<map znear="0.005" zfar="50"/></visual>',
        "  <asset>",
        '    <texture name="floor" type="2d" builtin="checker" rgb1="0.32 0.34 0.36" rgb2="0.26 0.27 0.29" '
        'width="256" height="256"/>',
        '    <material name="floor" texture="floor" texrepeat="4 4"/>',
        '    <texture name="wood" type="2d" builtin="flat" mark="random" random="0.35" rgb1="0.55 0.4 0.26" '
        'rgb2="0.4 0.28 0.17" markrgb="0.47 0.33 0.2" width="512" height="512"/>',
        '    <material name="table" texture="wood" texrepeat="3 3"/>',
        '    <texture name="board" type="2d" file="board.png"/>',
        '    <material name="board" texture="board" emission="0.25" specular="0"/>',
    ]
    for m in cfg.markers:
        x.append(f'    <texture name="tag{m.tag_id}" type="2d" file="tag{m.tag_id}.png"/>')
        x.append(f'    <material name="tag{m.tag_id}" texture="tag{m.tag_id}" emission="0.25" specular="0"/>')
    if robot is not None:
        x.extend("    " + a for a in robot.asset_xml)
        assets.update(robot.assets)
    for o in cfg.objects:
        x.append(
            f'    <texture name="tex_{o.name}" type="2d" builtin="{o.texture}" rgb1="{_v(o.rgb1)}" '
            f'rgb2="{_v(o.rgb2)}" width="128" height="128"/>'
        )
        x.append(f'    <material name="mat_{o.name}" texture="tex_{o.name}" texrepeat="2 2"/>')
    x.append("  </asset>")
    x.append("  <worldbody>")
    if cfg.shadows:
        x.append('    <light name="sun" directional="true" pos="0 0 3" dir="0.2 0.3 -1" castshadow="true"/>')
    x.append(f'    <geom name="floor" type="plane" size="2 2 0.5" material="floor" {NO_CONTACT}/>')
    x.append(
        f'    <geom name="table" type="box" pos="0 0 {TABLE_HALF[2]:.9g}" size="{_v(TABLE_HALF)}" '
        f'material="table" {NO_CONTACT}/>'
    )
    bw, bh = cfg.board.spec.size_m
    bx, by = cfg.board.centre
    # a box's +z face shows a 2-D texture with image rows along -y: the image's top edge lies towards +y
    x.append(
        f'    <geom name="board" type="box" pos="{bx:.9g} {by:.9g} {TABLE_TOP + 0.0005:.9g}" '
        f'size="{bw / 2:.9g} {bh / 2:.9g} 0.0005" material="board" {NO_CONTACT}/>'
    )
    for m in cfg.markers:
        s = m.size_m * 10 / 8  # the texture holds the tag plus its white border
        x.append(
            f'    <geom name="marker:tag{m.tag_id}" type="box" pos="{m.centre[0]:.9g} {m.centre[1]:.9g} '
            f'{TABLE_TOP + 0.0005:.9g}" size="{s / 2:.9g} {s / 2:.9g} 0.0005" material="tag{m.tag_id}" '
            f"{NO_CONTACT}/>"
        )
    for o in cfg.objects:
        z = TABLE_TOP + o.half_height
        size = " ".join(f"{s:.9g}" for s in o.size)
        x.append(f'    <body name="{o.name}" mocap="true" pos="{o.xy[0]:.9g} {o.xy[1]:.9g} {z:.9g}">')
        x.append(
            f'      <geom name="object:{o.name}" type="{o.shape}" size="{size}" material="mat_{o.name}" '
            f"{OBJECT_CONTACT}/>"
        )
        x.append("    </body>")
    # the operator's forearm and hand, wearing the exoskeleton; the wrist is a mocap body following the script
    x.append('    <body name="wrist" mocap="true" pos="0 -0.3 1.0">')
    if robot is not None:  # the robot hand instead of the operator's: its base link is the wrist frame
        x.extend("      " + line for line in robot.xml)
        x.extend(_camera_lines(cfg) + ["    </body>", "  </worldbody>", "</mujoco>"])
        return "\n".join(x) + "\n", assets
    x.extend(_camera_lines(cfg))
    x.extend(wearer_lines(spec, "      "))
    x.append("    </body>")
    x.append("  </worldbody>")
    x.append("</mujoco>")
    return "\n".join(x) + "\n", assets


def wearer_lines(spec: author.HandSpec, indent: str) -> list[str]:
    """The operator's forearm and hand wearing the exoskeleton `spec`, in the wrist frame (MJCF geoms and finger
    bodies); also the visual bridge's model of the exoskeleton as worn (dexumi.visual.models)."""
    rods = {s.link: s for s in author.link_segments(spec)}
    centre, half = author.palm_box(spec)
    plate = (centre[0] - half[0] - 0.004, centre[1], centre[2] * 0.8)
    x = [
        f'{indent}<geom name="forearm" type="capsule" fromto="0 0 -0.30 0 0 -0.03" size="0.032" rgba="{SKIN}" '
        f"{NO_CONTACT}/>",
        f'{indent}<geom name="exo:cuff" type="box" pos="-0.036 0 -0.06" size="0.008 0.034 0.035" rgba="{EXO}" '
        f"{NO_CONTACT}/>",
        f'{indent}<geom name="hand:palm" type="box" pos="{_v(centre)}" size="{_v(half)}" rgba="{SKIN}" '
        f"{HAND_CONTACT}/>",
        f'{indent}<geom name="exo:plate" type="box" pos="{_v(plate)}" size="0.004 {half[1] * 0.8:.9g} '
        f'{half[2] * 0.6:.9g}" rgba="{EXO}" {NO_CONTACT}/>',
    ]
    for finger in spec.fingers:
        x.extend(_finger_bodies(finger, rods, indent))
    return x


def _camera_lines(cfg: SceneConfig) -> list[str]:
    x = []
    for cam in cfg.cameras:
        T = cam.T_wrist_cam()
        R_mj = T[:3, :3] @ np.diag([1.0, -1.0, -1.0])  # OpenCV axes -> MuJoCo camera axes (y up, looking -z)
        fovy = cam.fovy_deg
        if cam.lens == "fisheye" or any(cam.distortion):
            from dexumi.sim.lens import render_fovy_deg

            fovy = render_fovy_deg(cam)
        x.append(
            f'      <camera name="{cam.name}" pos="{_v(T[:3, 3])}" xyaxes="{_rot_to_xyaxes(R_mj)}" fovy="{fovy:.9g}"/>'
        )
    return x
