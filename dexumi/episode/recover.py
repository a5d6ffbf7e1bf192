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
from collections.abc import Iterable
from typing import Any

import h5py
import numpy as np

from dexumi.episode import numbering
from dexumi.episode import schema as S
from dexumi.episode.finalize import JointMapper, finalize_open_file, read_text
from dexumi.episode.stored_map import retargeter_from_text
from dexumi.episode.heapcheck import readable_prefix
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter, publish
from dexumi.errors import DexumiError
from dexumi.vocab import EpisodeState

log = logging.getLogger(__name__)
COPY_BLOCK = 128  # camera frames copied at a time


@dataclass
class RecoveryResult:
    source: Path
    path: Path | None  # the finished episode (None: nothing to recover)
    action: str  # recovered | renamed | failed | already-final | cleaned | skipped
    encoder_samples: int = 0
    camera_frames: dict[str, int] = field(default_factory=dict)
    last_time: float | None = None  # host time of the last recovered encoder sample
    message: str = ""


def _attr(f: h5py.File, k: str, default: object = "") -> Any:
    v = f.attrs.get(k, default)
    return v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v


def _attr_of(obj: h5py.HLObject, k: str, default: str = "") -> str:
    v = obj.attrs.get(k, default)
    return v.decode() if isinstance(v, bytes) else str(v)


def _open_any(path: Path) -> tuple[h5py.File, bool]:
    """(file, cleanly_closed): normal open for a file that was closed, bounded SWMR read for one that was not."""
    from dexumi.episode.h5open import open_readonly

    return open_readonly(path)


def _mark_failed(path: Path, why: str) -> RecoveryResult:
    target = path.with_name(S.episode_name(S.episode_number(path) or 0) + S.FAILED)
    if not target.exists():
        os.rename(path, target)
    log.warning("%s: %s; kept as %s", path, why, target.name)
    return RecoveryResult(path, None, "failed", message=f"{why}; kept as {target.name}")


def _stream_len(g: h5py.Group, names: list[str]) -> int:
    return min(g[k].shape[0] for k in names) if names else 0


def _encoder_len(f: h5py.File) -> int:
    """Encoder rows every column has and can read (what a recovery copies)."""
    return readable_prefix(f[S.ENCODER], S.ENCODER_FIELDS)


def _layouts(f: h5py.File) -> tuple[EncoderLayout, list[CameraLayout]]:
    enc = f[S.ENCODER]
    names = tuple(str(x) for x in enc["angles"].attrs.get("names", []))
    el = EncoderLayout(
        int(enc.attrs.get("channels", enc["raw"].shape[1])),
        names,
        float(enc.attrs.get("nominal_rate_hz", 0.0)),
        float(enc.attrs.get("latency_s", 0.0)),
        str(_attr(enc, "device")),
    )
    cams = []
    for name, g in f.get(S.CAMERAS, {}).items():
        a = g.attrs
        cams.append(
            CameraLayout(
                name,
                int(a.get("width", 0)),
                int(a.get("height", 0)),
                str(a.get("source_encoding", "jpeg")),
                float(a.get("fps", 0.0)),
                float(a.get("latency_s", 0.0)),
                str(a.get("spec", "")),
            )
        )
    return el, cams


def _meta(f: h5py.File) -> EpisodeMeta:
    return EpisodeMeta(
        number=int(_attr(f, S.A_NUMBER, 0)),
        task=str(_attr(f, S.A_TASK)),
        operator=str(_attr(f, S.A_OPERATOR)),
        robot_hand=str(_attr(f, S.A_HAND)),
        exoskeleton=str(_attr(f, S.A_EXO)),
        nominal_fps=float(_attr(f, S.A_FPS, 0.0)),
        software_version=str(_attr(f, S.A_SOFTWARE)),
        calibration_profile_id=str(_attr(f, S.A_PROFILE)),
        calibration_profile_yaml=read_text(f, S.CALIBRATION_PROFILE),
        retarget_map_yaml=read_text(f, S.RETARGET_MAP),
        main_camera=str(_attr(f, S.A_MAIN_CAMERA)),
        created_utc=str(_attr(f, S.A_CREATED)),
        outcome=str(_attr(f, S.A_OUTCOME, "unknown")) or "unknown",
        notes=str(_attr(f, S.A_NOTES)),
        session_json=read_text(f, S.SESSION) or "{}",
    )


def _recognise(p: Path) -> None:
    """DexumiError (one line, nothing touched) unless `p` is one of our episode files by name and content."""
    from dexumi.episode.h5open import check_regular, has_hdf5_signature

    if S.episode_number(p) is None or not p.name.endswith((S.PARTIAL, S.RECOVERING, S.SUFFIX)):
        raise DexumiError(f"{p}: not an episode file (expected episode_NNNN.h5.partial); left untouched")
    check_regular(p)
    if p.stat().st_size and not has_hdf5_signature(p):
        raise DexumiError(f"{p}: not an HDF5 episode (no HDF5 signature); left untouched")


def _already_published(f: h5py.File, src: Path) -> Path | None:
    """The finished episode a previous recovery of `src` published before it was killed (else None)."""
    final = S.final_path(src)
    if final == src or not final.exists():
        return None
    try:
        if os.path.samefile(final, src):  # killed between link and unlink in publish()
            return final
    except OSError:
        return None
    from dexumi.episode.h5open import open_readonly
    from dexumi.episode.integrity import check_structure

    try:
        g, _ = open_readonly(final)
    except DexumiError:
        return None
    with g:
        try:
            check_structure(g, final, require_view=True)
            stats = read_text(g, S.STATS)
            import json

            same_source = json.loads(stats or "{}").get("recovered_from") == src.name
            samples = _stream_len(g[S.ENCODER], list(S.ENCODER_FIELDS))
        except (DexumiError, ValueError, OSError, KeyError):
            return None
    if same_source and samples == _encoder_len(f):
        return final
    return None


def recover_file(path: str | Path, retargeter: JointMapper | None = None) -> RecoveryResult:
    """Recover one `.partial` (or leftover `.recovering`) file into `episode_NNNN.h5`.

    Refuses in one line (DexumiError, file untouched) anything that is not one of our episode files, and
    a finished episode that is damaged. An empty reservation, or a partial holding no sample and no frame,
    becomes `.failed`.
    """
    p = Path(path)
    if p.name.endswith(S.RECOVERING):
        partial = p.with_name(p.name[: -len(S.RECOVERING)] + S.PARTIAL)
        if partial.exists():  # an interrupted recovery: redo it from the source
            p.unlink(missing_ok=True)
            return recover_file(partial, retargeter)
    if not p.exists() and not p.is_symlink():
        raise DexumiError(f"{p}: no such file")
    _recognise(p)
    if p.stat().st_size == 0:
        if not p.name.endswith(S.PARTIAL):
            raise DexumiError(f"{p}: empty file; left untouched")
        return _mark_failed(p, "empty (interrupted before the first write)")
    try:
        f, clean = _open_any(p)
    except DexumiError as exc:
        if "not already open for SWMR writing" in str(exc) and p.name.endswith(S.PARTIAL):
            # killed while the writer was still creating the file: SWMR (and appending) had not started
            return _mark_failed(p, "interrupted while the file was being created (no data)")
        raise
    with f:
        from dexumi.episode.integrity import check_structure

        if S.final_path(p) == p:  # a finished name: only ever reported on, never renamed or rewritten
            check_structure(f, p, require_view=True)
            return RecoveryResult(p, p, "already-final", message="already a finished episode")
        check_structure(f, p, require_view=False)
        if clean and _attr(f, S.A_STATE) in (EpisodeState.FINAL, EpisodeState.RECOVERED) and S.TIMESTAMPS in f:
            check_structure(f, p, require_view=True)
            final = None
        else:
            done = _already_published(f, p)
            if done is not None:
                f.close()
                p.unlink()
                return RecoveryResult(
                    p, done, "cleaned", message=f"already recovered as {done.name}; removed the leftover"
                )
            if _empty(f):
                f.close()
                return _mark_failed(p, "no encoder sample and no camera frame (interrupted in the first flush)")
            final = _rebuild_or_clean(f, p, retargeter)
    if final is None:  # finalised and closed, only the rename was missing
        return RecoveryResult(p, publish(p), "renamed", message="finished episode renamed")
    return final


def _empty(f: h5py.File) -> bool:
    if _stream_len(f[S.ENCODER], list(S.ENCODER_FIELDS)):
        return False
    return all(_stream_len(g, [S.FRAMES, *S.CAMERA_FIELDS]) == 0 for g in f.get(S.CAMERAS, {}).values())


def _rebuild_or_clean(f: h5py.File, src: Path, retargeter: JointMapper | None) -> RecoveryResult:
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
            raise DexumiError(
                f"not enough disk space to recover {src.name}: recovery writes a copy of "
                f"{src.stat().st_size / 2**20:.0f} MB; free space and run it again"
            ) from None
        raise DexumiError(f"could not recover {src.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def _rebuild(f: h5py.File, src: Path, retargeter: JointMapper | None) -> RecoveryResult:
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
    from dexumi.episode import device_stream, pose_stream
    from dexumi.episode.extra import copy_streams, layouts_in

    w = EpisodeWriter(
        out,
        meta,
        el,
        cams,
        action_names=names or (tuple(retargeter.robot_joint_names) if retargeter is not None else None),
        extra=layouts_in(f),
        pose=pose_stream.layouts_in(f),
        devices=device_stream.layouts_in(f),
        primary_role=str(_attr_of(f[S.ENCODER], "role")),
    )
    enc = f[S.ENCODER]
    n_enc = _encoder_len(f)
    for name, col in w.encoder.cols.items():
        for k in range(0, n_enc, 1 << 16):
            col.append(enc[name][k : min(n_enc, k + (1 << 16))])
    gaps = enc["gaps"][: readable_prefix(enc, ["gaps"])] if "gaps" in enc else np.zeros((0, 2))
    if len(gaps):
        w.encoder.gaps.resize(len(gaps), axis=0)
        w.encoder.gaps[:] = gaps
    counts = {}
    for cam in cams:
        g = f[f"{S.CAMERAS}/{cam.name}"]
        m = readable_prefix(g, [S.FRAMES, *S.CAMERA_FIELDS])
        cs = w.cameras[cam.name]
        for k in range(0, m, COPY_BLOCK):
            e = min(m, k + COPY_BLOCK)
            cs.store.append_rows(g[S.FRAMES][k:e], *(g[name][k:e] for name in S.CAMERA_FIELDS))
            w.flush()
        counts[cam.name] = m
    counts.update(copy_streams(f, w))  # extra streams (LSL)
    counts.update(pose_stream.copy_streams(f, w))  # wrist pose
    counts.update(device_stream.copy_streams(f, w))  # further devices (/raw/<role>)
    last = float(enc["host_time"][n_enc - 1]) if n_enc else None
    finalize_open_file(
        w.f, meta, EpisodeState.RECOVERED, "recovered after an interruption", retargeter, {"recovered_from": src.name}
    )
    w._close()
    final = publish(out)
    src.unlink()
    log.info("recovered %s → %s (%d encoder samples, frames %s)", src.name, final.name, n_enc, counts)
    return RecoveryResult(src, final, "recovered", n_enc, counts, last, "recovered")


def recover_path(path: str | Path, progress: bool = False) -> list[RecoveryResult]:
    """A file, or every unfinished episode in a folder (one that cannot be recovered is reported as
    `skipped` with its reason and left untouched; the others are still recovered).

    Takes the folder's lock (dexumi.episode.folderlock): refuses while another process records there.
    """
    from dexumi.episode.folderlock import FolderLock

    p = Path(path)
    if p.is_dir():
        folder = p
    elif p.exists() or p.is_symlink():
        folder = p.parent
    else:
        raise DexumiError(f"{p}: no such file or folder")
    with FolderLock(folder, exclusive=False):
        if not p.is_dir():
            return [recover_file(p)]
        files = numbering.unfinished(p)
        partials = {x.name for x in files if x.name.endswith(S.PARTIAL)}
        # a .recovering next to its .partial is redone from the .partial, not on its own
        files = [
            x
            for x in files
            if not (x.name.endswith(S.RECOVERING) and x.name[: -len(S.RECOVERING)] + S.PARTIAL in partials)
        ]
        todo: Iterable[Path] = files
        if progress and len(files) > 1:
            from tqdm import tqdm

            todo = tqdm(files, desc="recovering", unit="episode")
        out = []
        for x in todo:
            if not x.exists():
                continue
            try:
                out.append(recover_file(x))
            except DexumiError as exc:  # the caller reports it (one line per file)
                log.debug("%s", exc)
                out.append(RecoveryResult(x, None, "skipped", message=str(exc)))
        return out
