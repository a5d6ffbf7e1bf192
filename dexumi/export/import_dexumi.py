"""`dexumi import --from dexumi DIR --out FOLDER`: DexUMI-layout zarr recordings → dexumi episodes.

Accepted layout (a zarr v2 group; every array may use any numcodecs/imagecodecs codec):

    episode_<n>/proprioception (T, J)      the hand's joint readings at each frame → the encoder stream
    episode_<n>/hand_action (T, J)         kept as raw/imported/hand_action
    episode_<n>/pose (T, D)                optional, kept as raw/imported/pose
    episode_<n>/camera_<k>/rgb (T, H, W, 3) uint8 RGB → JPEG camera stream camera_<k>
    episode_<n>/timestamp or camera_<k>/receive_time (T,)  optional host receive times (seconds)

The clock is recorded as it was: host receive times when the source has them (`clock` attribute
"import:host_receive"), else frame_index / fps ("import:frame_index"). Each episode is finalised by the episode
writer (aligned view, action rule) and validated; the verdict is printed per episode.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame, EncoderBatch
from dexumi.vocab import Outcome

log = logging.getLogger(__name__)
EPISODE = re.compile(r"^episode_(\d+)$")
MAX_FRAMES = 10_000_000


@dataclass
class ImportedEpisode:
    source: str
    path: Path
    frames: int
    clock: str
    validation: str


def _open(src: Path):
    import zarr

    try:
        return zarr.open_group(str(src), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds on a foreign folder
        raise DexumiError(f"{src}: not a zarr group in DexUMI's layout ({type(exc).__name__})") from None


def _times(g, T: int, fps: float) -> tuple[np.ndarray, str]:
    for name in ("timestamp", "receive_time", "camera_0/receive_time"):
        if name in g:
            t = np.asarray(g[name][:], np.float64).reshape(-1)
            if len(t) == T and np.all(np.isfinite(t)) and np.all(np.diff(t) > 0):
                return t, "import:host_receive"
            log.warning("%s/%s is not a strictly increasing time per frame; using frame_index / fps", g.name, name)
    return np.arange(T, dtype=np.float64) / fps, "import:frame_index"


def import_episode(
    g, name: str, out: Path, number: int, fps: float, quality: int = 90, robot_hand: str = ""
) -> ImportedEpisode:
    if "proprioception" not in g:
        raise DexumiError(f"{name}: no proprioception array")
    prop = g["proprioception"]
    if prop.ndim != 2 or not 0 < prop.shape[0] <= MAX_FRAMES or not 0 < prop.shape[1] <= 64:
        raise DexumiError(f"{name}: proprioception has shape {prop.shape}; expected (T, J)")
    T, J = prop.shape
    q = np.asarray(prop[:], np.float64)
    if not np.all(np.isfinite(q)):
        raise DexumiError(f"{name}: proprioception holds NaN/inf")
    cams = sorted(k for k in g.group_keys() if k.startswith("camera_") and "rgb" in g[k])
    for c in cams:
        rgb = g[f"{c}/rgb"]
        if rgb.ndim != 4 or rgb.shape[0] != T or rgb.shape[3] != 3:
            raise DexumiError(f"{name}: {c}/rgb has shape {rgb.shape}; expected ({T}, H, W, 3)")
    t, clock = _times(g, T, fps)
    names = tuple(f"joint_{j}" for j in range(J))
    meta = EpisodeMeta(
        number=number,
        task=str(g.attrs.get("task", "")),
        operator=str(g.attrs.get("operator", "")),
        robot_hand=str(g.attrs.get("robot_hand", robot_hand)),
        nominal_fps=fps,
        main_camera=cams[0] if cams else "",
        software_version="dexumi import",
    )
    enc = EncoderLayout(channels=J, joint_names=names, nominal_rate_hz=fps, device=f"import:{name}")
    layouts = [CameraLayout(c, int(g[f"{c}/rgb"].shape[2]), int(g[f"{c}/rgb"].shape[1]), fps=fps) for c in cams]
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"episode_{number:04d}.h5.partial"
    w = EpisodeWriter(partial, meta, enc, layouts, action_names=names)
    try:
        idx = np.arange(T, dtype=np.int64)
        w.append_encoder(
            [EncoderBatch(idx, np.round((t - t[0]) * 1e6).astype(np.int64), t, t, np.zeros((T, J), np.int32), q)]
        )
        for c in cams:
            rgb = g[f"{c}/rgb"]
            for k0 in range(0, T, 64):
                block = np.asarray(rgb[k0 : k0 + 64])
                frames = []
                for k, im in enumerate(block):
                    ok, buf = cv2.imencode(
                        ".jpg", cv2.cvtColor(im, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
                    )
                    frames.append(
                        CameraFrame(c, k0 + k, float(t[k0 + k]), buf.tobytes(), "jpeg", im.shape[1], im.shape[0])
                    )
                w.append_frames(c, frames)
                w.maybe_flush()
        outcome = str(g.attrs.get("outcome", Outcome.UNKNOWN))
        path = w.finalize(outcome if outcome in tuple(Outcome) else Outcome.UNKNOWN, stop_reason="imported")
    except BaseException:
        w.close_partial()
        raise
    with h5py.File(path, "r+") as f:  # finalised: no longer SWMR, attributes may be added
        f.attrs.modify("clock", clock) if "clock" in f.attrs else f.attrs.create("clock", clock)
        f.attrs["imported_from"] = f"dexumi:{name}"
        raw = f.require_group("raw/imported")
        for key in ("hand_action", "pose"):
            if key in g:
                raw.create_dataset(key, data=np.asarray(g[key][:]))
    from dexumi.validate import validate_paths

    rep = validate_paths([path], workers=1, progress=False).episodes[0]
    return ImportedEpisode(name, path, T, clock, rep.level)


def import_dexumi(src: str | Path, out: str | Path, fps: float = 30.0, robot_hand: str = "") -> list[ImportedEpisode]:
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.is_dir():
        raise DexumiError(f"{src}: no such folder")
    if out.exists() and any(out.glob("episode_*")):
        raise DexumiError(f"{out} already holds episodes; import into a new folder")
    root = _open(src)
    eps = sorted((int(m.group(1)), k) for k in root.group_keys() if (m := EPISODE.match(k)))
    if not eps:
        raise DexumiError(f"{src}: no episode_<n> groups (DexUMI's layout)")
    return [import_episode(root[k], k, out, i + 1, fps, robot_hand=robot_hand) for i, (_, k) in enumerate(eps)]
