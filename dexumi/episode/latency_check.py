"""Per-episode latency self-check: each camera's latency re-estimated from the episode's own frames.

A camera's latency is not a constant (an MJPG camera's delay changes every time it is opened), so every
episode checks the profile's value against its own data. The frames' mapped times already have the
profile's latency subtracted; cross-correlating the camera's motion signal at those times against the
encoder's (final clock fit) with the estimator of `dexumi.latency` measures what the profile got wrong:
`estimate = profile + difference`.

Signals, as the latency calibration uses them: a sim camera's per-finger flexion measured from its pixels
against the encoder's per-finger flexion; when the episode has a wrist pose, any other camera's optical flow
against the wrist's twist (`dexumi.latency_twist`: the camera rides on the wrist, and a moving wrist's flow
swamps the fingers'; the pose stream that explains the flow best is the camera's wrist); else the camera's
optical-flow motion energy against the joints' total speed. An estimate the data does not support (weak fit,
wide spread over blocks, or the best lag at the search window's edge) is "unmeasured", never a figure.

To stay within ~1 s per 60 s episode, frames are subsampled to `rate_hz` (6 Hz: a grasp's motion has nothing
faster that the estimator needs; measured as accurate as all 30 fps) and decoded at 1/8 size; the pose-flow
method takes 6 frame pairs a second, decoded to 80 px width (±1.5 ms against every pair: a drift check with
a 10 ms threshold; `validate` measures at 15 pairs a second).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import h5py
import numpy as np

from dexumi import latency as core
from dexumi.episode import schema as S
from dexumi.episode.aligned import refit_encoder_times
from dexumi.episode.heapcheck import readable_rows
from dexumi.errors import DexumiError
from dexumi.finger_bars import finger_flexion, measure_flexion
from dexumi.jpeg import decode_jpeg

log = logging.getLogger(__name__)

SEARCH_S = 0.3  # ± search window: a profile off by more than this is not a drift but a missing calibration
BLOCK_S = 2.0  # blocks for the uncertainty (needs >= 2 blocks: episodes of about 5 s and more)


@dataclass
class LatencyThresholds:
    """|estimate − profile| above warn_ms → warn, above error_ms → error (when the estimate is trusted)."""

    warn_ms: float = 10.0
    error_ms: float = 25.0
    min_correlation: float = 0.6  # below: the estimate is not trusted ("unmeasured")
    max_uncertainty_ms: float = 8.0  # above: not trusted either


@dataclass
class CameraLatencyCheck:
    """One camera's self-check, as stored in the sync report (`latency_check.cameras.<name>`)."""

    camera: str
    method: str  # "sim flexion" | "motion energy" | "pose flow (<pose stream>)" | ""
    profile_s: float  # the latency the episode was recorded with
    estimate_s: float | None = None  # what the episode's own frames say
    difference_s: float | None = None  # estimate − profile
    uncertainty_s: float | None = None
    peak_correlation: float | None = None
    frames_used: int = 0
    blocks: int = 0
    status: str = "unmeasured"  # ok | warn | error | unmeasured
    message: str = ""
    seconds: float = 0.0  # what the check cost

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> CameraLatencyCheck:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def grade(c: CameraLatencyCheck, th: LatencyThresholds) -> CameraLatencyCheck:
    """Set status and message of a check from its figures and the thresholds (in place; returns it)."""
    if c.estimate_s is None or c.difference_s is None:
        c.status = "unmeasured"
        c.message = c.message or f"{c.camera}: latency not measured"
        return c
    diff_ms = c.difference_s * 1e3
    unc_ms = (c.uncertainty_s or 0.0) * 1e3
    trusted = (c.peak_correlation or 0.0) >= th.min_correlation and unc_ms <= th.max_uncertainty_ms
    text = (
        f"{c.camera}: latency {c.estimate_s * 1e3:.1f} ± {unc_ms:.1f} ms from the episode's frames, "
        f"profile {c.profile_s * 1e3:.1f} ms (difference {diff_ms:+.1f} ms)"
    )
    if not trusted:
        c.status = "unmeasured"
        c.message = text + f": not trusted (peak r={c.peak_correlation or 0:.2f}, ± {unc_ms:.1f} ms)"
    elif abs(diff_ms) > th.error_ms:
        c.status, c.message = "error", text + " — re-run the latency calibration"
    elif abs(diff_ms) > th.warn_ms:
        c.status, c.message = "warn", text
    else:
        c.status, c.message = "ok", text
    return c


def sample_indices(n: int, times: np.ndarray, rate_hz: float) -> np.ndarray:
    """Indices of frames subsampled to about `rate_hz` (all of them if the camera is slower)."""
    if n < 2:
        return np.arange(n)
    span = float(times[-1] - times[0])
    fps = (n - 1) / span if span > 0 else rate_hz
    step = max(1, int(np.ceil(fps / rate_hz - 1e-6))) if rate_hz > 0 else 1
    return np.arange(0, n, step)


def jpeg_rows(jpegs: h5py.Dataset | list, idx: np.ndarray) -> list:
    """The JPEGs at increasing indices `idx`: one h5py selection (4× faster than row by row)."""
    if isinstance(jpegs, h5py.Dataset) and len(idx):
        if int(np.max(idx)) >= readable_rows(jpegs):  # a torn file: HDF5 would spin on a heap past its end
            raise DexumiError("camera frames past the end of a torn file")
        return list(jpegs[np.asarray(idx, np.int64)])
    return [jpegs[int(i)] for i in idx]


def motion_energy_at(
    jpegs: h5py.Dataset | list, times: np.ndarray, idx: np.ndarray, reduce: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optical-flow motion energy of the frames at `idx`, each against the frame before it (decoded at
    1/`reduce` size): the indices used (frame 0 has no predecessor and is left out), the moments the energies
    describe (the middle of each frame and the one before it, on the clock of `times`) and the energies."""
    import cv2

    idx = idx[idx >= 1]
    both = np.union1d(idx - 1, idx)
    rows = dict(zip(both.tolist(), jpeg_rows(jpegs, both)))
    energy = []
    for i in idx.tolist():
        a, b = (cv2.cvtColor(decode_jpeg(rows[k], reduce), cv2.COLOR_BGR2GRAY) for k in (i - 1, i))
        energy.append(float(core.motion_energy([a, b], size=(b.shape[1], b.shape[0]))[-1]))
    t = np.asarray(times, np.float64)
    return idx, 0.5 * (t[idx - 1] + t[idx]), np.asarray(energy)


POSE_BLOCK_S = 10.0  # blocks for the pose-flow uncertainty: a wrist's motion needs more than 2 s to fit well
POSE_PAIR_RATE_HZ = 15.0  # frame pairs a second for a pose-flow measurement (all 30: twice the cost, ~same figure)


def flow_pairs_at(
    jpegs: h5py.Dataset | list, times: np.ndarray, idx: np.ndarray, reduce: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean optical flow (`dexumi.latency_twist.mean_flow`) of each frame at `idx` against the frame before it,
    decoded at 1/`reduce` size: (pair start times, pair end times, (k, 2) mean flows) on the clock of `times`."""
    from dexumi.latency_twist import mean_flow

    idx = idx[idx >= 1]
    both = np.union1d(idx - 1, idx)
    rows = dict(zip(both.tolist(), jpeg_rows(jpegs, both)))
    flows = [mean_flow(decode_jpeg(rows[i - 1], reduce), decode_jpeg(rows[i], reduce)) for i in idx.tolist()]
    t = np.asarray(times, np.float64)
    return t[idx - 1], t[idx], np.array(flows) if flows else np.zeros((0, 2))


def flow_reduce(width: int) -> int:
    """JPEG decode scale for the pose-flow method: the largest of 8/4/2 keeping >= FLOW_WIDTH px of width."""
    from dexumi.latency_twist import FLOW_WIDTH

    return next((r for r in (8, 4, 2) if width and width // r >= FLOW_WIDTH), 1)


def pose_twist(g: h5py.Group) -> tuple[np.ndarray, np.ndarray]:
    """A raw pose stream's body twist between consecutive tracking samples of one segment, on the recording
    clock (`time`, the latency-corrected mapping): (midpoint times, (k, 6))."""
    from dexumi.latency_twist import body_twist
    from dexumi.pose_sample import LOST

    key = "time" if "time" in g else "mapped_time"
    n = min(g[k].shape[0] for k in (key, "position", "orientation", "state", "segment"))
    t, pos, quat = g[key][:n], g["position"][:n], g["orientation"][:n]
    ok = (g["state"][:n] != LOST) & np.isfinite(pos).all(axis=1) & np.isfinite(quat).all(axis=1)
    ok &= np.isfinite(t) & (np.linalg.norm(quat, axis=1) > 0.5)
    seg = g["segment"][:n]
    pair = ok[:-1] & ok[1:] & (seg[:-1] == seg[1:]) & (np.diff(t) > 0) if n >= 2 else np.zeros(0, bool)
    return body_twist(t, pos, quat, np.flatnonzero(pair))


def pose_flow_estimate(
    twists: dict[str, tuple[np.ndarray, np.ndarray]],
    starts: np.ndarray,
    ends: np.ndarray,
    flows: np.ndarray,
    search_s: float = SEARCH_S,
    block_s: float = POSE_BLOCK_S,
) -> tuple[str, core.LatencyEstimate]:
    """The camera's latency against the pose stream that explains its flow best (the wrist it rides on):
    (stream name, estimate). Raises DexumiError when no stream gives an estimate."""
    from dexumi.latency_twist import estimate_latency_from_twist

    best: tuple[str, core.LatencyEstimate] | None = None
    why = "no wrist pose"
    for name, (t, tw) in twists.items():
        try:
            est = estimate_latency_from_twist(t, tw, starts, ends, flows, search_s=search_s, block_s=block_s)
        except DexumiError as exc:
            why = str(exc)
            continue
        if best is None or est.peak_correlation > best[1].peak_correlation:
            best = (name, est)
    if best is None:
        raise DexumiError(why)
    return best


def check_camera(
    name: str,
    enc_times: np.ndarray,
    enc_angles: np.ndarray,
    jpegs: h5py.Dataset | list,
    mapped_time: np.ndarray,
    profile_s: float,
    sim: bool,
    rate_hz: float = 6.0,
    reduce: int | None = None,
    th: LatencyThresholds | None = None,
    width: int = 0,
    pose_twists: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> CameraLatencyCheck:
    """Re-estimate one camera's latency. `mapped_time`: frame times with the profile latency subtracted.

    `pose_twists` (`pose_twist` of the episode's wrist-pose streams): a camera that is not a flat sim camera
    is then measured against the wrist it rides on (its flow against the wrist's twist), not against the
    fingers' speed, which a moving wrist's flow swamps.
    `reduce`: JPEG decode scale (default: the largest of 8/4/2/1 that keeps `width` / reduce >= 80 px)."""
    t0 = time.perf_counter()
    if not sim and pose_twists:
        return _check_against_pose(name, jpegs, mapped_time, profile_s, pose_twists, th, width, rate_hz, t0)
    if reduce is None:
        reduce = next((r for r in (8, 4, 2) if width and width // r >= 80), 1 if width else 8)
    c = CameraLatencyCheck(name, "sim flexion" if sim else "motion energy", float(profile_s))
    try:
        mt = np.asarray(mapped_time, np.float64)
        et = np.asarray(enc_times, np.float64)
        ea = np.asarray(enc_angles, np.float64)
        ok = np.isfinite(et)
        et, ea = et[ok], ea[ok]
        if len(mt) < 20 or len(et) < 20:
            raise DexumiError(f"too few frames ({len(mt)}) or encoder samples ({len(et)})")
        idx = sample_indices(len(mt), mt, rate_hz)
        if sim:
            data = jpeg_rows(jpegs, idx)
            cam = np.array([measure_flexion(decode_jpeg(data[k], reduce)) for k in range(len(idx))])
            ref = finger_flexion(ea)
            cam_t = mt[idx]
        else:
            idx, cam_t, cam = motion_energy_at(jpegs, mt, idx, reduce)
            ref = core.joint_speed(et, ea)
        needed_s = 2 * BLOCK_S + 2 * SEARCH_S
        if len(et) < 2 or float(et[-1] - et[0]) < needed_s:  # too short: don't run (and warn from) the estimator
            raise ValueError(f"episode too short for a latency estimate (needs >= {needed_s:.0f} s)")
        est = core.estimate_latency(et, ref, cam_t, cam, search_s=SEARCH_S, block_s=BLOCK_S)
        c.difference_s = float(est.latency_s)
        c.estimate_s = float(profile_s + est.latency_s)
        c.uncertainty_s = float(est.uncertainty_s) if est.blocks >= 2 else None
        c.peak_correlation = float(est.peak_correlation)
        c.frames_used = int(len(idx))
        c.blocks = int(est.blocks)
        if est.blocks < 2:
            c.message = f"{name}: episode too short for an uncertainty (needs >= {2 * BLOCK_S + 2 * SEARCH_S:.0f} s)"
            c.estimate_s = c.difference_s = None
    except (DexumiError, ValueError) as exc:
        c.message = f"{name}: latency not measured ({exc})"
    c.seconds = time.perf_counter() - t0
    if c.uncertainty_s is None and c.estimate_s is not None:
        c.uncertainty_s = 0.0
    return grade(c, th or LatencyThresholds())


def measure_against_pose(
    jpegs: h5py.Dataset | list,
    mapped_time: np.ndarray,
    width: int,
    twists: dict[str, tuple[np.ndarray, np.ndarray]],
    rate_hz: float = POSE_PAIR_RATE_HZ,
) -> tuple[str, core.LatencyEstimate, int]:
    """A camera's latency against the wrist pose it rides on, from frame pairs at about `rate_hz`:
    (pose stream, estimate, frame pairs used). Raises DexumiError when it cannot be estimated."""
    mt = np.asarray(mapped_time, np.float64)
    if len(mt) < 20:
        raise DexumiError(f"too few frames ({len(mt)})")
    idx = sample_indices(len(mt), mt, rate_hz)
    starts, ends, flows = flow_pairs_at(jpegs, mt, idx, flow_reduce(width))
    stream, est = pose_flow_estimate(twists, starts, ends, flows)
    return stream, est, int(len(starts))


def _check_against_pose(
    name: str,
    jpegs: h5py.Dataset | list,
    mapped_time: np.ndarray,
    profile_s: float,
    twists: dict[str, tuple[np.ndarray, np.ndarray]],
    th: LatencyThresholds | None,
    width: int,
    rate_hz: float,
    t0: float,
) -> CameraLatencyCheck:
    c = CameraLatencyCheck(name, "pose flow", float(profile_s))
    try:
        stream, est, used = measure_against_pose(jpegs, mapped_time, width, twists, rate_hz)
        c.method = f"pose flow ({stream})"
        c.difference_s = float(est.latency_s)
        c.estimate_s = float(profile_s + est.latency_s)
        c.uncertainty_s = float(est.uncertainty_s)
        c.peak_correlation = float(est.peak_correlation)
        c.frames_used = used
        c.blocks = int(est.blocks)
        if est.blocks < 2:
            c.message = (
                f"{name}: episode too short for an uncertainty (needs >= {2 * POSE_BLOCK_S:.0f} s with a wrist pose)"
            )
            c.estimate_s = c.difference_s = None
        elif abs(est.latency_s) > 0.98 * SEARCH_S:  # the fit's best is the window's edge: not a measurement
            c.message = f"{name}: latency not measured (no lag within ±{SEARCH_S * 1e3:.0f} ms explains the flow)"
            c.estimate_s = c.difference_s = None
    except (DexumiError, ValueError) as exc:
        c.message = f"{name}: latency not measured ({exc})"
    c.seconds = time.perf_counter() - t0
    return grade(c, th or LatencyThresholds())


def episode_pose_twists(f: h5py.File) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`pose_twist` of every wrist-pose stream of an episode with enough tracking samples to use."""
    out = {}
    for name, g in f.get(S.POSE, {}).items():
        if isinstance(g, h5py.Group) and all(k in g for k in ("position", "orientation", "state", "segment")):
            t, tw = pose_twist(g)
            if len(t) >= 50:
                out[name] = (t, tw)
    return out


def check_open_file(f: h5py.File, enc_times: np.ndarray | None = None, th: LatencyThresholds | None = None) -> dict:
    """The self-check of every camera of an open episode file, as a JSON-friendly dict for the sync report.

    `enc_times`: the encoder samples on the recording clock (finalising passes its final fit); else the
    final fit is recomputed from the raw stream.
    """
    th = th or LatencyThresholds()
    t0 = time.perf_counter()
    enc = f[S.ENCODER]
    n = min(enc[k].shape[0] for k in ("device_time_us", "host_time", "segment", "angles"))
    angles = enc["angles"][:n]
    if enc_times is None:
        enc_times = refit_encoder_times(
            enc["device_time_us"][:n], enc["host_time"][:n], enc["segment"][:n], float(enc.attrs.get("latency_s", 0.0))
        ).time
    cams: dict[str, dict] = {}
    twists = episode_pose_twists(f)
    for name, g in f.get(S.CAMERAS, {}).items():
        if not isinstance(g, h5py.Group) or S.FRAMES not in g or "mapped_time" not in g:
            continue
        spec = g.attrs.get("spec", "")
        spec = spec.decode() if isinstance(spec, bytes) else str(spec)
        m = min(g[S.FRAMES].shape[0], g["mapped_time"].shape[0])
        c = check_camera(
            name,
            enc_times[:n],
            angles,
            g[S.FRAMES],
            g["mapped_time"][:m],
            float(g.attrs.get("latency_s", 0.0)),
            spec.startswith("sim"),
            th=th,
            width=int(g.attrs.get("width", 0) or 0),
            pose_twists=twists,
        )
        cams[name] = c.to_json()
    worst = summarize(cams)
    return {
        "cameras": cams,
        "status": worst,
        "thresholds_ms": {"warn": th.warn_ms, "error": th.error_ms},
        "seconds": time.perf_counter() - t0,
    }


def summarize(cams: dict[str, dict]) -> str:
    """The worst status of a camera dict: error > warn > ok > unmeasured."""
    order = {"unmeasured": 0, "ok": 1, "warn": 2, "error": 3}
    if not cams:
        return "unmeasured"
    return max((c.get("status", "unmeasured") for c in cams.values()), key=lambda s: order.get(s, 0))


def one_line(report: dict) -> str:
    """One line for the recorder and the CLI: each camera's estimate vs profile."""
    cams = report.get("cameras", {}) if report else {}
    if not cams:
        return "latency self-check: no camera"
    parts = []
    for name, c in cams.items():
        if c.get("estimate_s") is None or c.get("status") == "unmeasured":
            parts.append(f"{name} unmeasured")
        else:
            diff = int(round(c["difference_s"] * 1e3))
            flag = " " + c["status"].upper() if c["status"] in ("warn", "error") else ""
            parts.append(f"{name} {c['estimate_s'] * 1e3:.0f} ms (profile {c['profile_s'] * 1e3:.0f}, {diff:+d}){flag}")
    return "latency self-check: " + "; ".join(parts)


def safe_check_open_file(
    f: h5py.File, enc_times: np.ndarray | None = None, th: LatencyThresholds | None = None
) -> dict:
    """`check_open_file` for finalising: a failure of the check is reported, never raised (the episode
    must be saved whatever the check finds)."""
    try:
        return check_open_file(f, enc_times, th)
    except Exception as exc:  # noqa: BLE001 - finalising goes on; the report says why there is no check
        log.warning("latency self-check failed: %s", exc)
        return {"cameras": {}, "status": "unmeasured", "error": f"{type(exc).__name__}: {exc}"}
