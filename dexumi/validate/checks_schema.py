"""Schema and version, minimum length, NaN/inf."""

from __future__ import annotations

import numpy as np

from dexumi.episode import schema as S
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit
from dexumi.validate.result import EpisodeReport
from dexumi.vocab import EpisodeState


def check_schema(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Required datasets, consistent shapes, finished state, names, episode number."""
    problems: list[str] = []
    state = str(d.attrs.get(S.A_STATE, ""))
    if state not in (EpisodeState.FINAL, EpisodeState.RECOVERED):
        problems.append(f"state is {state!r}, not final (an unfinished episode: run `dexumi recover`)")
    for name, arr in (
        (S.TIMESTAMPS, d.timestamps),
        (S.ACTION, d.action),
        (S.QPOS, d.qpos),
        (S.EXO_JOINTS, d.exo),
        (S.VALID, d.valid),
    ):
        if arr is None:
            problems.append(f"/{name} missing")
    if not problems:
        assert d.timestamps is not None and d.action is not None and d.qpos is not None  # checked above
        assert d.exo is not None and d.valid is not None
        T = len(d.timestamps)
        for name, arr in ((S.ACTION, d.action), (S.QPOS, d.qpos), (S.EXO_JOINTS, d.exo), (S.VALID, d.valid)):
            if arr.shape[0] != T:
                problems.append(f"/{name} has {arr.shape[0]} rows for {T} timestamps")
        if d.action.ndim != 2 or len(d.action_names) != d.action.shape[1]:
            problems.append(f"/{S.ACTION} names {len(d.action_names)} for shape {d.action.shape}")
        if d.qpos.shape != d.action.shape:
            problems.append(f"/{S.QPOS} shape {d.qpos.shape} differs from /{S.ACTION} {d.action.shape}")
        if d.exo.ndim != 2 or (d.exo_names and len(d.exo_names) != d.exo.shape[1]):
            problems.append(f"/{S.EXO_JOINTS} names {len(d.exo_names)} for shape {d.exo.shape}")
        for cam in d.cameras.values():
            if cam.aligned_index is None:
                problems.append(f"/{S.IMAGES}/{cam.name} missing")
            elif cam.aligned_index.shape != (T,):
                problems.append(f"/{S.IMAGES}/{cam.name} has {cam.aligned_index.shape[0]} rows for {T} timestamps")
            elif len(cam.aligned_index) and (cam.aligned_index.max() >= cam.frames or cam.aligned_index.min() < -1):
                problems.append(f"/{S.IMAGES}/{cam.name} indexes frames outside 0..{cam.frames - 1}")
    if S.ENCODER not in d.f:
        problems.append(f"/{S.ENCODER} missing")
    if not d.attrs.get(S.A_HAND):
        problems.append("no robot_hand attribute")
    num = S.episode_number(d.path)
    attr_num = d.attrs.get(S.A_NUMBER)
    if num is not None and attr_num is not None and int(attr_num) != num:
        problems.append(f"file name says episode {num} but its episode_number attribute is {attr_num}")
    if problems:
        emit(r, cfg, "schema", "error", "; ".join(problems[:4]), problems=problems)
    else:
        emit(
            r,
            cfg,
            "schema",
            "pass",
            f"{S.FORMAT} v{d.attrs.get(S.A_VERSION)} {state}, "
            f"{len(d.cameras)} camera(s), action {d.action.shape[1] if d.action is not None else 0} joints",
            version=int(d.attrs.get(S.A_VERSION, 0)),
        )


def check_length(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    if d.timestamps is None:
        emit(r, cfg, "length", "skip", "no aligned timeline")
        return
    T = len(d.timestamps)
    dur = float(d.timestamps[-1] - d.timestamps[0]) if T > 1 else 0.0
    r.metrics.update(frames=T, duration_s=round(dur, 4))
    if T < cfg.min_frames or dur < cfg.min_duration_s:
        emit(
            r,
            cfg,
            "length",
            "error",
            f"{T} frames over {dur:.2f} s (minimum {cfg.min_frames} frames, {cfg.min_duration_s:g} s)",
            frames=T,
            duration_s=dur,
        )
    else:
        emit(r, cfg, "length", "pass", f"{T} frames over {dur:.2f} s", frames=T, duration_s=dur)


def check_finite(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """NaN/inf in the aligned arrays and raw stream times/angles."""
    bad: dict[str, int] = {}
    times: list[float] = []
    t0 = d.t0
    arrays = {S.TIMESTAMPS: d.timestamps, S.ACTION: d.action, S.QPOS: d.qpos, S.EXO_JOINTS: d.exo}
    arrays.update({f"{S.ENCODER}/{k}": v for k, v in d.encoder.items() if v.dtype.kind == "f"})
    for cam in d.cameras.values():
        arrays[f"{S.CAMERAS}/{cam.name}/grab_time"] = cam.grab_time
        arrays[f"{S.CAMERAS}/{cam.name}/mapped_time"] = cam.mapped_time
        if (
            cam.aligned_offset is not None
            and cam.aligned_index is not None
            and cam.aligned_offset.shape == cam.aligned_index.shape
        ):
            arrays[f"{S.IMAGE_OFFSETS}/{cam.name}"] = cam.aligned_offset[cam.aligned_index >= 0]
    for name, a in arrays.items():
        if a is None or a.dtype.kind != "f":
            continue
        nf = ~np.isfinite(a)
        if nf.any():
            bad[name] = int(nf.sum())
            rows = np.flatnonzero(nf.reshape(len(a), -1).any(axis=1))
            if d.timestamps is not None and name in (S.ACTION, S.QPOS, S.EXO_JOINTS) and len(d.timestamps) == len(a):
                ts = d.timestamps[rows]
                times += (ts[np.isfinite(ts)] - t0).tolist()
    if bad:
        first = next(iter(bad))
        emit(
            r,
            cfg,
            "finite",
            "error",
            f"non-finite values: {', '.join(f'{k} ({v})' for k, v in bad.items())}"
            if len(bad) < 4
            else f"non-finite values in {len(bad)} datasets, first /{first}",
            times,
            counts=bad,
        )
    else:
        emit(r, cfg, "finite", "pass", "no NaN or inf")
