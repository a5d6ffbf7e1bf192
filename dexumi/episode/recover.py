"""Recovery of episodes interrupted by a crash, kill or full disk.

The `.partial` file was written in SWMR mode, so whatever the moment of the interruption it opens as a SWMR
reader and shows the data of the last flush. Recovery never edits it: it copies the raw streams (cut to
the length every column of a stream has) into a new `.recovering` file, builds the aligned view and reports
there, renames it to `.h5`, and only then removes the `.partial`. An interrupted recovery is simply redone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from dexumi.episode import numbering
from dexumi.episode import schema as S
from dexumi.episode.finalize import finalize_open_file, read_text
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.reader import check_version
from dexumi.episode.writer import EpisodeWriter, publish
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
COPY_BLOCK = 128  # camera frames copied at a time


@dataclass
class RecoveryResult:
    source: Path
    path: Path | None  # the finished episode (None: nothing to recover)
    action: str  # recovered | renamed | failed | already-final
    encoder_samples: int = 0
    camera_frames: dict[str, int] = field(default_factory=dict)
    last_time: float | None = None  # host time of the last recovered encoder sample
    message: str = ""


def _attr(f: h5py.File, k: str, default: object = "") -> object:
    v = f.attrs.get(k, default)
    return v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v


def _open_any(path: Path) -> tuple[h5py.File | None, bool]:
    """(file, cleanly_closed): normal open for a file that was closed, SWMR read for one that was not."""
    try:
        return h5py.File(path, "r"), True
    except OSError:
        pass
    try:
        return h5py.File(path, "r", swmr=True), False
    except OSError:
        return None, False


def _mark_failed(path: Path, why: str) -> RecoveryResult:
    target = path.with_name(S.episode_name(S.episode_number(path) or 0) + S.FAILED)
    if not target.exists():
        os.rename(path, target)
    log.warning("%s: %s; kept as %s", path, why, target.name)
    return RecoveryResult(path, None, "failed", message=f"{why}; kept as {target.name}")


def _stream_len(g: h5py.Group, names: list[str]) -> int:
    return min(g[k].shape[0] for k in names) if names else 0


def _readable_frames(ds: h5py.Dataset, n: int) -> int:
    """The number of leading frames whose bytes can be read (checks the last ones)."""
    while n > 0:
        try:
            ds[n - 1]
            return n
        except Exception:  # noqa: BLE001 - a torn heap object at the very end
            n -= 1
    return 0


def _layouts(f: h5py.File) -> tuple[EncoderLayout, list[CameraLayout]]:
    enc = f[S.ENCODER]
    names = tuple(str(x) for x in enc["angles"].attrs.get("names", []))
    el = EncoderLayout(int(enc.attrs.get("channels", enc["raw"].shape[1])), names,
                       float(enc.attrs.get("nominal_rate_hz", 0.0)), float(enc.attrs.get("latency_s", 0.0)),
                       str(_attr(enc, "device")))
    cams = []
    for name, g in f.get(S.CAMERAS, {}).items():
        a = g.attrs
        cams.append(CameraLayout(name, int(a.get("width", 0)), int(a.get("height", 0)),
                                 str(a.get("source_encoding", "jpeg")), float(a.get("fps", 0.0)),
                                 float(a.get("latency_s", 0.0)), str(a.get("spec", ""))))
    return el, cams


def _meta(f: h5py.File) -> EpisodeMeta:
    return EpisodeMeta(
        number=int(_attr(f, S.A_NUMBER, 0)), task=str(_attr(f, S.A_TASK)), operator=str(_attr(f, S.A_OPERATOR)),
        robot_hand=str(_attr(f, S.A_HAND)), exoskeleton=str(_attr(f, S.A_EXO)),
        nominal_fps=float(_attr(f, S.A_FPS, 0.0)), software_version=str(_attr(f, S.A_SOFTWARE)),
        calibration_profile_id=str(_attr(f, S.A_PROFILE)),
        calibration_profile_yaml=read_text(f, S.CALIBRATION_PROFILE), retarget_map_yaml=read_text(f, S.RETARGET_MAP),
        main_camera=str(_attr(f, S.A_MAIN_CAMERA)), created_utc=str(_attr(f, S.A_CREATED)),
        outcome=str(_attr(f, S.A_OUTCOME, "unknown")) or "unknown", notes=str(_attr(f, S.A_NOTES)),
        session_json=read_text(f, S.SESSION) or "{}")


def retargeter_from_text(text: str):
    """A Retargeter from a stored map text, or None (identity action) when there is none or it fails."""
    if not text.strip():
        return None
    try:
        from dexumi.retarget import Retargeter, parse_map

        return Retargeter.from_map(parse_map(text, "<stored map>", ".yaml"))
    except Exception as exc:  # noqa: BLE001 - recovery must not fail on the map: keep exoskeleton joints
        log.warning("stored retarget map unusable (%s): action = exoskeleton joints", exc)
        return None


def recover_file(path: str | Path, retargeter: object | None = None) -> RecoveryResult:
    """Recover one `.partial` (or leftover `.recovering`) file into `episode_NNNN.h5`."""
    p = Path(path)
    if p.name.endswith(S.RECOVERING):
        partial = p.with_name(p.name[: -len(S.RECOVERING)] + S.PARTIAL)
        if partial.exists():  # an interrupted recovery: redo it from the source
            p.unlink()
            return recover_file(partial, retargeter)
    if not p.exists():
        raise DexumiError(f"{p}: no such file")
    if p.stat().st_size == 0:
        return _mark_failed(p, "empty (interrupted before the first write)")
    f, clean = _open_any(p)
    if f is None:
        return _mark_failed(p, "not readable as HDF5")
    with f:
        check_version(f, p)
        if clean and _attr(f, S.A_STATE) in ("final", "recovered") and S.TIMESTAMPS in f:
            final = None
        else:
            final = _rebuild_or_clean(f, p, retargeter)
    if final is None and S.final_path(p) == p:
        return RecoveryResult(p, p, "already-final", message="already a finished episode")
    if final is None:  # finalised and closed, only the rename was missing
        final = publish(p)
        return RecoveryResult(p, final, "renamed", message="finished episode renamed")
    return final


def _rebuild_or_clean(f: h5py.File, src: Path, retargeter: object | None) -> RecoveryResult:
    """`_rebuild`, removing the half-built copy if it fails (the source stays untouched)."""
    try:
        return _rebuild(f, src, retargeter)
    except Exception as exc:
        n = S.episode_number(src)
        out = src.with_name(S.episode_name(n if n is not None else 0) + S.RECOVERING)
        out.unlink(missing_ok=True)
        if isinstance(exc, DexumiError):
            raise
        if "no space left" in str(exc).lower() or getattr(exc, "errno", None) == 28:
            raise DexumiError(f"not enough disk space to recover {src.name}: recovery writes a copy of "
                              f"{src.stat().st_size / 2**20:.0f} MB; free space and run it again") from None
        raise DexumiError(f"could not recover {src.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def _rebuild(f: h5py.File, src: Path, retargeter: object | None) -> RecoveryResult:
    meta = _meta(f)
    el, cams = _layouts(f)
    n = S.episode_number(src)
    out = src.with_name(S.episode_name(n if n is not None else meta.number) + S.RECOVERING)
    if out.exists():
        out.unlink()
    names = tuple(str(x) for x in f[S.ACTION].attrs.get("names", [])) if S.ACTION in f else None
    if retargeter is None:
        retargeter = retargeter_from_text(meta.retarget_map_yaml)
    if retargeter is not None and names and tuple(retargeter.robot_joint_names) != names:
        retargeter = None
    from dexumi.episode.extra import copy_streams, layouts_in

    w = EpisodeWriter(out, meta, el, cams, action_names=names or (tuple(retargeter.robot_joint_names)
                                                                  if retargeter is not None else None),
                      extra=layouts_in(f))
    enc = f[S.ENCODER]
    n_enc = _stream_len(enc, list(S.ENCODER_FIELDS))
    for name, col in w.encoder.cols.items():
        for k in range(0, n_enc, 1 << 16):
            col.append(enc[name][k:min(n_enc, k + (1 << 16))])
    gaps = enc["gaps"][:] if "gaps" in enc else np.zeros((0, 2))
    if len(gaps):
        w.encoder.gaps.resize(len(gaps), axis=0)
        w.encoder.gaps[:] = gaps
    counts = {}
    for cam in cams:
        g = f[f"{S.CAMERAS}/{cam.name}"]
        m = _readable_frames(g[S.FRAMES], _stream_len(g, [S.FRAMES, *S.CAMERA_FIELDS]))
        cs = w.cameras[cam.name]
        for k in range(0, m, COPY_BLOCK):
            e = min(m, k + COPY_BLOCK)
            cs.store.append_rows(g[S.FRAMES][k:e], *(g[name][k:e] for name in S.CAMERA_FIELDS))
            w.flush()
        counts[cam.name] = m
    counts.update(copy_streams(f, w))  # extra streams (LSL)
    last = float(enc["host_time"][n_enc - 1]) if n_enc else None
    finalize_open_file(w.f, meta, "recovered", "recovered after an interruption", retargeter,
                       {"recovered_from": src.name})
    w._close()
    final = publish(out)
    src.unlink()
    log.info("recovered %s → %s (%d encoder samples, frames %s)", src.name, final.name, n_enc, counts)
    return RecoveryResult(src, final, "recovered", n_enc, counts, last, "recovered")


def recover_path(path: str | Path, progress: bool = False) -> list[RecoveryResult]:
    """A file, or every unfinished episode in a folder."""
    p = Path(path)
    if p.is_dir():
        files = numbering.unfinished(p)
    elif p.exists():
        files = [p]
    else:
        raise DexumiError(f"{p}: no such file or folder")
    if progress and len(files) > 1:
        from tqdm import tqdm

        files = tqdm(files, desc="recovering", unit="episode")
    return [recover_file(x) for x in files]
