"""Offline wrist-camera trajectory from a recorded episode's video: `dexumi pose EPISODE --from board|sfm`.

`offline_pose(episode_path, options) -> OfflineResult` is the whole per-episode job (a plain function, so a
batch layer can run it per episode). It never opens the episode for writing: the trajectory goes to the derived
file `<stem>.derived/pose-board.h5` or `pose-sfm.h5` (`dexumi.episode.derived`).

- **board**: every recorded frame of the camera through the online tracker's code (`BoardTracker`: ChArUco +
  AprilTags, lens-aware PnP), so offline equals online frame for frame.
- **sfm**: structure from motion with COLMAP (`pycolmap`): every `stride`-th frame (default: about 5 per second),
  SIFT features outside the rig mask (the pixels that move with the camera — the hand, the exoskeleton — found
  as those whose brightness barely changes over the episode; or a mask PNG of the user's), sequential matching,
  incremental mapping with the lens held fixed (the calibrated or simulated intrinsics). The largest model is
  kept. Metric scale and the absolute frame come from the board: a similarity (Umeyama, sim3) maps the model's
  camera centres onto the board-tracked ones of the same frames; without a board view, from a known distance
  between two frames' camera centres (`distance=(frame_a, frame_b, metres)`, expressed in the first registered
  frame's camera axes). Frames between two registered key frames are interpolated (Slerp) and marked LIMITED.

Layout of the derived file (times on the recording clock, the same time base as `timestamps`):

    /frames/{index, time, position, orientation, state, quality}   one row per recorded frame of the camera
        index: the raw frame number in /raw/cameras/<camera>; time: that frame's mapped time (s);
        position (m) and orientation (x, y, z, w) of the camera (OpenCV axes) in `frame`; state 0 TRACKING,
        1 LIMITED, 2 LOST (NaN pose); quality 0..1
    /frames/points, /frames/rms_px          target points (board) or triangulated points seen (sfm), reprojection
    /frames/registered, /frames/interpolated (sfm only)
    /aligned/{time, position, orientation, valid}   the same pose at the episode's `timestamps` (Slerp, never
        across a lost frame), like observations/wrist_pose
    /sfm/points3d (sfm only)                 the model's points in `frame`
    attrs: method, camera, frame (board | first_frame), scale_source (board | distance), scale, lens, frames,
        tracked, limited, lost, registered, board_fit_rms_mm (sfm vs board on shared frames), seconds
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from dexumi.pose_sample import LIMITED, LOST, TRACKING
from dexumi.errors import DexumiError
from dexumi.tracking.lenses import lens_for, profile_lenses
from dexumi.tracking.pnp import Intrinsics

METHODS = ("board", "sfm")
SFM_FPS = 5.0
MASK_STD = 2.0  # grey levels: a pixel whose brightness varies less than this over the episode is rig
MASK_MARGIN_PX = 31


@dataclass
class OfflineOptions:
    """What `dexumi pose` was asked for."""

    method: str = "board"
    camera: str | None = None  # default: the episode's main camera
    force: bool = False
    stride: int = 0  # sfm: every Nth frame (0: about SFM_FPS per second)
    distance: tuple[int, int, float] | None = None  # sfm scale: camera centres of frames a, b are this far apart
    mask: Path | None = None  # sfm: rig mask PNG (black = ignore); default: found from the video
    max_features: int = 2048
    tags: str = "auto"
    span: tuple[float, float] | None = None  # only frames with time in [t0, t1] (s since the first frame)


@dataclass
class OfflineResult:
    """What one episode gave: counts, scale, where it was written."""

    episode: str
    out: str
    method: str
    camera: str
    frames: int
    tracked: int
    limited: int
    lost: int
    registered: int = 0
    scale_source: str = ""
    scale: float = 1.0
    board_fit_rms_mm: float | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Track:
    """A per-frame trajectory: camera in `frame`, OpenCV axes."""

    index: np.ndarray
    time: np.ndarray
    position: np.ndarray
    orientation: np.ndarray
    state: np.ndarray
    quality: np.ndarray
    points: np.ndarray
    rms_px: np.ndarray

    @classmethod
    def empty(cls, index: np.ndarray, time_s: np.ndarray) -> Track:
        n = len(index)
        return cls(
            np.asarray(index, np.int64),
            np.asarray(time_s, np.float64),
            np.full((n, 3), np.nan),
            np.full((n, 4), np.nan),
            np.full(n, LOST, np.uint8),
            np.zeros(n, np.float32),
            np.zeros(n, np.int32),
            np.full(n, np.nan, np.float32),
        )

    def set(self, k: int, T: np.ndarray, state: int, quality: float) -> None:
        self.position[k] = T[:3, 3]
        self.orientation[k] = Rotation.from_matrix(T[:3, :3]).as_quat()
        self.state[k] = state
        self.quality[k] = quality

    def matrices(self) -> np.ndarray:
        """(n, 4, 4); NaN where lost."""
        T = np.tile(np.eye(4), (len(self.index), 1, 1))
        ok = self.state != LOST
        T[~ok] = np.nan
        if ok.any():
            T[ok, :3, :3] = Rotation.from_quat(self.orientation[ok]).as_matrix()
            T[ok, :3, 3] = self.position[ok]
        return T


# ------------------------------------------------------------------------------------------ inputs
def episode_lens(ep, camera: str) -> Intrinsics:
    """The camera's intrinsics: the episode's calibration profile, else a simulated world camera's own."""
    from dexumi.episode import schema as S

    g = ep.f[f"{S.CAMERAS}/{camera}"]
    spec = str(g.attrs.get("spec", ""))
    w, h = int(g.attrs.get("width", 0)), int(g.attrs.get("height", 0))
    text = ep.text(S.CALIBRATION_PROFILE) if S.CALIBRATION_PROFILE in ep.f else ""
    cam = lens_for(profile_lenses(text), camera)
    if cam is not None:
        return cam
    if spec.startswith("world:"):
        from dexumi.tracking.board import world_lens

        if not w or not h:
            img = ep.raw_image(camera, 0)
            h, w = img.shape[:2]
        return world_lens(camera, w, h)
    raise DexumiError(
        f"{ep.path.name}: no intrinsics for camera {camera!r} (record with a calibration profile that has this camera)"
    )


def _pick_camera(ep, camera: str | None) -> str:
    from dexumi.episode import schema as S

    cams = ep.cameras
    if not cams:
        raise DexumiError(f"{ep.path.name}: no camera recorded")
    if camera is None:
        main = str(ep.f.attrs.get(S.A_MAIN_CAMERA, "") or "")
        return main if main in cams else cams[0]
    if camera not in cams:
        raise DexumiError(f"{ep.path.name}: no camera {camera!r} (has {', '.join(cams)})")
    return camera


def _frames(ep, camera: str, span: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """(raw frame numbers, mapped times) of the camera's readable frames (optionally a time span)."""
    n = ep.frame_count(camera)
    if n == 0:
        raise DexumiError(f"{ep.path.name}: camera {camera} has no frames")
    times = ep.camera_times(camera)["mapped_time"][:n]
    rows = np.arange(n)
    if span is not None:
        rel = times - times[0]
        rows = rows[(rel >= span[0]) & (rel <= span[1])]
        if len(rows) == 0:
            raise DexumiError(f"{ep.path.name}: no frames of {camera} in {span[0]:g}..{span[1]:g} s")
    return rows, times[rows]


def _grey(ep, camera: str, row: int) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(ep.jpeg(camera, int(row)), np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise DexumiError(f"{ep.path.name}: frame {row} of {camera} is not a readable JPEG")
    return img


# ------------------------------------------------------------------------------------------ board
def board_track(ep, camera: str, rows: np.ndarray, times: np.ndarray, lens: Intrinsics, tags: str = "auto") -> Track:
    """Board PnP on every listed frame (the online tracker's code)."""
    from dexumi.tracking.board import BoardTracker

    tracker = BoardTracker(lens, tags=tags)
    tr = Track.empty(rows, times)
    for k, row in enumerate(rows):
        res = tracker.track(_grey(ep, camera, row))
        tr.points[k], tr.rms_px[k] = res.points, res.rms_px
        if res.T_target_cam is not None:
            tr.set(k, res.T_target_cam, res.state, res.quality)
    return tr


# ------------------------------------------------------------------------------------------ sfm
def rig_mask(images: list[np.ndarray], std_grey: float = MASK_STD, margin_px: int = MASK_MARGIN_PX) -> np.ndarray:
    """255 where features may be taken, 0 on what moves with the camera (brightness nearly constant over time)."""
    g = np.stack(images).astype(np.float32)
    ok = (g.std(0) >= std_grey).astype(np.uint8) * 255
    return cv2.erode(ok, np.ones((margin_px, margin_px), np.uint8))


def _colmap_camera(lens: Intrinsics) -> tuple[str, str]:
    K, d = lens.matrix, np.ravel(lens.distortion).astype(float)
    f = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
    if lens.model == "fisheye":
        return "OPENCV_FISHEYE", ",".join(repr(float(x)) for x in [*f, *np.pad(d, (0, 4))[:4]])
    return "FULL_OPENCV", ",".join(repr(float(x)) for x in [*f, *np.pad(d, (0, 8))[:8]])


def _pycolmap():
    try:
        import pycolmap
    except ImportError:
        raise DexumiError("--from sfm needs pycolmap: pip install 'dexumi[sfm]'") from None
    pycolmap.logging.minloglevel = 3  # COLMAP logs progress and failures on stderr: our own line says it
    return pycolmap


@dataclass
class SfmModel:
    """Registered key frames (positions in `rows`): camera-in-model 4×4, points seen, mean reprojection px."""

    poses: dict[int, np.ndarray]
    points: dict[int, int]
    rms_px: dict[int, float]
    points3d: np.ndarray
    seconds: dict[str, float]


def run_sfm(
    jpegs: list[bytes], lens: Intrinsics, mask: np.ndarray | None, max_features: int = 2048, threads: int = 2
) -> SfmModel:
    """COLMAP on the key frames' JPEG bytes (as recorded, not re-encoded); the largest model."""
    pycolmap = _pycolmap()
    work = Path(tempfile.mkdtemp(prefix="dexumi-sfm-"))
    try:
        img = work / "images"
        img.mkdir()
        names = [f"{k:06d}.jpg" for k in range(len(jpegs))]
        for name, data in zip(names, jpegs):
            (img / name).write_bytes(data)
        ro = pycolmap.ImageReaderOptions()
        ro.camera_model, ro.camera_params = _colmap_camera(lens)
        if mask is not None:
            (work / "mask").mkdir()
            for name in names:
                cv2.imwrite(str(work / "mask" / f"{name}.png"), mask)
            ro.mask_path = str(work / "mask")
        eo = pycolmap.FeatureExtractionOptions()
        eo.num_threads, eo.use_gpu = threads, False
        eo.sift.max_num_features = max_features
        db = work / "db.db"
        t0 = time.monotonic()
        pycolmap.extract_features(
            db,
            img,
            image_names=names,
            camera_mode=pycolmap.CameraMode.SINGLE,
            reader_options=ro,
            extraction_options=eo,
            device=pycolmap.Device.cpu,
        )
        t1 = time.monotonic()
        po = pycolmap.SequentialPairingOptions()
        po.overlap, po.quadratic_overlap = 10, True
        mo = pycolmap.FeatureMatchingOptions()
        mo.num_threads, mo.use_gpu = threads, False
        pycolmap.match_sequential(db, matching_options=mo, pairing_options=po, device=pycolmap.Device.cpu)
        t2 = time.monotonic()
        opt = pycolmap.IncrementalPipelineOptions()
        opt.ba_refine_focal_length = opt.ba_refine_principal_point = opt.ba_refine_extra_params = False
        opt.num_threads = threads
        recs = pycolmap.incremental_mapping(db, img, work / "sparse", opt)
        t3 = time.monotonic()
        if not recs:
            raise DexumiError(
                f"structure from motion failed to register the frames ({len(jpegs)} key frames: "
                "too little texture or motion?)"
            )
        rec = max(recs.values(), key=lambda r: r.num_reg_images())
        poses, seen, rms = {}, {}, {}
        err = {pid: p.error for pid, p in rec.points3D.items()}
        for im in rec.images.values():
            if not im.has_pose:
                continue
            k = int(im.name[:6])
            T = np.eye(4)
            T[:3, :] = im.cam_from_world().matrix()
            poses[k] = np.linalg.inv(T)
            ids = [p.point3D_id for p in im.points2D if p.has_point3D()]
            seen[k] = len(ids)
            rms[k] = float(np.sqrt(np.mean(np.square([err[i] for i in ids])))) if ids else float("nan")
        pts = np.array([p.xyz for p in rec.points3D.values()], np.float64).reshape(-1, 3)
        return SfmModel(poses, seen, rms, pts, {"extract": t1 - t0, "match": t2 - t1, "map": t3 - t2})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """4×4 similarity (s R | t) mapping `src` points onto `dst` (Umeyama)."""
    from dexumi.tracking.metrics import umeyama

    s, R, t = umeyama(src, dst, scale=True)
    S = np.eye(4)
    S[:3, :3], S[:3, 3] = s * R, t
    return S


def _apply(S: np.ndarray, T: np.ndarray) -> np.ndarray:
    """A camera pose mapped by a similarity: rotation by S's rotation, centre by S."""
    s = np.cbrt(np.linalg.det(S[:3, :3]))
    out = np.eye(4)
    out[:3, :3] = (S[:3, :3] / s) @ T[:3, :3]
    out[:3, 3] = S[:3, :3] @ T[:3, 3] + S[:3, 3]
    return out


def sfm_track(
    ep, camera: str, rows: np.ndarray, times: np.ndarray, lens: Intrinsics, opt: OfflineOptions
) -> tuple[Track, dict]:
    """SfM on key frames, scaled and framed by the board (or a known distance), filled between key frames."""
    fps = (len(times) - 1) / max(times[-1] - times[0], 1e-9) if len(times) > 1 else SFM_FPS
    stride = opt.stride or max(1, int(round(fps / SFM_FPS)))
    keys = np.arange(0, len(rows), stride)
    if len(keys) < 3:
        raise DexumiError(f"{ep.path.name}: {len(keys)} key frames of {camera}: too few for structure from motion")
    greys = [_grey(ep, camera, rows[k]) for k in keys]
    if opt.mask is not None:
        mask = cv2.imread(str(opt.mask), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.shape != greys[0].shape:
            raise DexumiError(f"--mask {opt.mask}: not a {greys[0].shape[1]}x{greys[0].shape[0]} image")
        mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    else:
        mask = rig_mask(greys)
        if (mask > 0).mean() < 0.2:  # nothing moved: a still camera; let COLMAP see everything
            mask = None
    model = run_sfm([ep.jpeg(camera, int(rows[k])) for k in keys], lens, mask, opt.max_features)
    reg = sorted(model.poses)
    if len(reg) < 3:
        raise DexumiError(f"structure from motion registered only {len(reg)} of {len(keys)} key frames")
    # metric scale and frame
    from dexumi.tracking.board import BoardTracker

    tracker = BoardTracker(lens, tags=opt.tags)
    board = {}
    for j in reg:
        res = tracker.track(greys[j])
        if res.T_target_cam is not None and res.state == TRACKING:
            board[j] = res.T_target_cam
    info: dict = {
        "key_frames": int(len(keys)),
        "stride": int(stride),
        "mask_fraction": round(float((mask == 0).mean()) if mask is not None else 0.0, 3),
        "timing_s": {k: round(v, 2) for k, v in model.seconds.items()},
        "board_key_frames": len(board),
    }
    shared = sorted(board)
    spread = np.ptp(np.array([board[j][:3, 3] for j in shared]), axis=0).max() if len(shared) >= 3 else 0.0
    if len(shared) >= 3 and spread > 0.01:
        S = _similarity(np.array([model.poses[j][:3, 3] for j in shared]), np.array([board[j][:3, 3] for j in shared]))
        info.update(frame="board", scale_source="board")
    elif opt.distance is not None:
        a, b, metres = opt.distance
        ka, kb = (int(np.argmin(np.abs(rows[keys] - x))) for x in (a, b))
        if ka not in model.poses or kb not in model.poses:
            raise DexumiError(
                f"--distance {a}:{b}: frames {rows[keys[ka]]} and {rows[keys[kb]]} are not both "
                "registered (pick registered key frames)"
            )
        d = np.linalg.norm(model.poses[ka][:3, 3] - model.poses[kb][:3, 3])
        S = np.linalg.inv(model.poses[reg[0]])
        S[:3, :] *= metres / d
        info.update(frame="first_frame", scale_source="distance")
    else:
        raise DexumiError(
            f"{ep.path.name}: no metric scale for structure from motion: the board is tracked on "
            f"{len(shared)} registered key frames (3+ apart needed); give --distance A:B:METRES"
        )
    scale = float(np.cbrt(np.linalg.det(S[:3, :3])))
    poses = {j: _apply(S, T) for j, T in model.poses.items()}
    if info["scale_source"] == "board":
        dists = [np.linalg.norm(poses[j][:3, 3] - board[j][:3, 3]) for j in shared]
        info["board_fit_rms_mm"] = round(float(np.sqrt(np.mean(np.square(dists))) * 1e3), 3)
    info["scale"] = scale
    info["points3d"] = (S[:3, :3] @ model.points3d.T).T + S[:3, 3] if len(model.points3d) else model.points3d
    tr = Track.empty(rows, times)
    for j, T in poses.items():
        k = int(keys[j])
        q = float(min(1.0, model.points[j] / 100.0) * np.exp(-model.rms_px[j] / 1.5))
        tr.set(k, T, TRACKING, q)
        tr.points[k], tr.rms_px[k] = model.points[j], model.rms_px[j]
    interpolated = np.zeros(len(rows), bool)
    for j0, j1 in zip(reg[:-1], reg[1:]):
        if j1 != j0 + 1:
            continue  # a key frame between them was not registered: nothing to interpolate across
        k0, k1 = int(keys[j0]), int(keys[j1])
        if k1 - k0 < 2:
            continue
        inner = np.arange(k0 + 1, k1)
        u = (times[inner] - times[k0]) / (times[k1] - times[k0])
        rot = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([poses[j0][:3, :3], poses[j1][:3, :3]])))(u)
        pos = (1 - u)[:, None] * poses[j0][:3, 3] + u[:, None] * poses[j1][:3, 3]
        tr.position[inner], tr.orientation[inner] = pos, rot.as_quat()
        tr.state[inner] = LIMITED
        tr.quality[inner] = 0.5 * min(tr.quality[k0], tr.quality[k1])
        interpolated[inner] = True
    info["registered"] = len(reg)
    info["interpolated"] = interpolated
    return tr, info


# ------------------------------------------------------------------------------------------ output
def _write(f, tr: Track, ep_times: np.ndarray, extra: dict) -> None:
    from dexumi.pose import align_poses

    g = f.create_group("frames")
    for name, arr, unit in (
        ("index", tr.index, "1"),
        ("time", tr.time, "s"),
        ("position", tr.position, "m"),
        ("orientation", tr.orientation, "xyzw"),
        ("state", tr.state, "0 tracking, 1 limited, 2 lost"),
        ("quality", tr.quality, "0..1"),
        ("points", tr.points, "1"),
        ("rms_px", tr.rms_px, "px"),
    ):
        g.create_dataset(name, data=arr).attrs["unit"] = unit
    if "interpolated" in extra:
        g.create_dataset("interpolated", data=extra["interpolated"].astype(np.uint8))
        reg = np.zeros(len(tr.index), np.uint8)
        reg[(tr.state == TRACKING)] = 1
        g.create_dataset("registered", data=reg)
    fps = (len(tr.time) - 1) / max(tr.time[-1] - tr.time[0], 1e-9) if len(tr.time) > 1 else 30.0
    al = align_poses(
        tr.time, tr.position, tr.orientation, tr.state, ep_times, index=tr.index, max_gap_s=max(0.05, 1.5 / fps)
    )
    a = f.create_group("aligned")
    a.create_dataset("time", data=np.asarray(ep_times, np.float64))
    a.create_dataset("position", data=al.position)
    a.create_dataset("orientation", data=al.orientation)
    a.create_dataset("valid", data=al.valid.astype(np.uint8))
    if "points3d" in extra:
        f.create_group("sfm").create_dataset("points3d", data=np.asarray(extra["points3d"], np.float32))


def offline_pose(episode_path: str | Path, options: OfflineOptions) -> OfflineResult:
    """One episode → its derived `pose-<method>` file; one-line DexumiError on every failure."""
    from dexumi.episode.derived import derived_path, write_derived
    from dexumi.episode.reader import Episode

    if options.method not in METHODS:
        raise DexumiError(f"--from {options.method}: use board or sfm")
    path = Path(episode_path)
    kind = f"pose-{options.method}"
    if derived_path(path, kind).exists() and not options.force:
        raise DexumiError(f"{derived_path(path, kind)} exists (use --force to recompute it)")
    if options.method == "sfm":
        _pycolmap()
    t0 = time.monotonic()
    with Episode.open(path) as ep:
        camera = _pick_camera(ep, options.camera)
        lens = episode_lens(ep, camera)
        rows, times = _frames(ep, camera, options.span)
        ep_times = ep.timestamps if ep.finalized else times
        extra: dict = {}
        attrs: dict[str, Any]  # the derived file's attributes (str, float and int values)
        if options.method == "board":
            tr = board_track(ep, camera, rows, times, lens, options.tags)
            if not (tr.state != LOST).any():
                raise DexumiError(f"{path.name}: the board is never seen by {camera} ({len(rows)} frames)")
            attrs = {"frame": "board", "scale_source": "board", "scale": 1.0}
        else:
            tr, extra = sfm_track(ep, camera, rows, times, lens, options)
            attrs = {k: extra[k] for k in ("frame", "scale_source", "scale")}
    counts = {
        "frames": len(rows),
        "tracked": int((tr.state == TRACKING).sum()),
        "limited": int((tr.state == LIMITED).sum()),
        "lost": int((tr.state == LOST).sum()),
    }
    fit = extra.get("board_fit_rms_mm")
    attrs.update(
        counts,
        method=options.method,
        camera=camera,
        lens=lens.model,
        registered=int(extra.get("registered", counts["tracked"])),
        board_fit_rms_mm=float("nan") if fit is None else fit,
        seconds=time.monotonic() - t0,
    )
    out = write_derived(path, kind, lambda f: _write(f, tr, ep_times, extra), force=options.force, attrs=attrs)
    info = {
        k: v
        for k, v in extra.items()
        if k not in ("points3d", "interpolated", "frame", "scale_source", "scale", "registered", "board_fit_rms_mm")
    }
    return OfflineResult(
        str(path),
        str(out),
        options.method,
        camera,
        scale_source=attrs["scale_source"],
        scale=float(attrs["scale"]),
        registered=attrs["registered"],
        board_fit_rms_mm=fit,
        seconds=round(time.monotonic() - t0, 2),
        extra=info,
        **counts,
    )


def read_offline(episode_path: str | Path, method: str) -> dict[str, np.ndarray]:
    """The derived trajectory's `/frames` arrays (and `aligned_*`), refusing a stale one."""
    from dexumi.episode.derived import open_derived

    with open_derived(episode_path, f"pose-{method}") as f:
        out = {k: f["frames"][k][:] for k in f["frames"]}
        out.update({f"aligned_{k}": f["aligned"][k][:] for k in f["aligned"]})
        out["attrs"] = dict(f.attrs)
    return out


def offline_pose_task(episode_path: str, options: OfflineOptions) -> dict:
    """`offline_pose` as a batch task (dexumi.batch): a JSON-able result for the manifest and the engines."""
    return offline_pose(episode_path, options).to_json()
