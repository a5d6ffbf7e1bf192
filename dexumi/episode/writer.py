"""Episode writer: appends streams to an HDF5 file as they arrive, crash-safe by SWMR + periodic flush.

The file is created as `episode_NNNN.h5.partial`, every dataset made up front, and switched to SWMR mode:
from then on HDF5 orders its metadata writes so that the file on disk is always a consistent, readable
snapshot, and `flush()` (at most every `flush_interval_s`) publishes the data appended so far. A `kill -9`
therefore loses at most what arrived since the last flush. `finalize()` adds the aligned training view,
reports and the outcome, closes, fsyncs and renames to `episode_NNNN.h5` (atomic on POSIX).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.columns import Column, create_extendible
from dexumi.episode.frames import CameraFrameStore
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.errors import DexumiError
from dexumi.safe_output import TargetExists, fsync_path, rename_no_clobber
from dexumi.types import CameraFrame, EncoderBatch, GapEvent
from dexumi.vocab import EpisodeState

if TYPE_CHECKING:
    from dexumi.episode.finalize import JointMapper

log = logging.getLogger(__name__)

CHUNK_CACHE_BYTES = 4 << 20  # per-file raw-data chunk cache: bounds the writer's memory


def _text(group: h5py.Group, name: str, text: str) -> None:
    group.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))


_Column = Column  # the old private name


class _Stream(Protocol):
    def finalize(self) -> dict: ...


class _Buffered(Protocol):
    def write_pending(self) -> None: ...


class EncoderStream:
    """`/raw/encoder`: every sample as it arrived."""

    def __init__(self, group: h5py.Group, layout: EncoderLayout) -> None:
        self.layout = layout
        widths = {"channels": layout.channels, "joints": len(layout.joint_names)}
        self.cols = {
            name: _Column(group, name, dt, widths[w] if w else None, S.ENCODER_CHUNK, unit)
            for name, (dt, w, unit) in S.ENCODER_FIELDS.items()
        }
        self.cols["angles"].ds.attrs["names"] = list(layout.joint_names)
        for k, v in (
            ("channels", layout.channels),
            ("nominal_rate_hz", layout.nominal_rate_hz),
            ("latency_s", layout.latency_s),
            ("device", layout.device),
        ):
            group.attrs[k] = v
        self.gaps = group.create_dataset("gaps", (0, 2), maxshape=(None, 2), dtype="f8", chunks=(64, 2))
        self.gaps.attrs["unit"] = "s"
        self.gap_reasons: list[str] = []

    @property
    def count(self) -> int:
        return self.cols["index"].n

    def append(self, batches: list[EncoderBatch]) -> None:
        if not batches:
            return
        cat = (
            (lambda f: np.concatenate([getattr(b, f) for b in batches]))
            if len(batches) > 1
            else (lambda f: getattr(batches[0], f))
        )
        seg = np.concatenate([np.full(len(b), b.segment, np.int32) for b in batches])
        values = {
            "host_time": cat("host_time"),
            "device_time_us": cat("device_time_us"),
            "mapped_time": cat("mapped_time"),
            "index": cat("index"),
            "segment": seg,
            "raw": cat("raw"),
            "angles": cat("angles"),
        }
        for name, col in self.cols.items():
            col.append(values[name])

    def add_gap(self, gap: GapEvent) -> None:
        n = self.gaps.shape[0]
        self.gaps.resize(n + 1, axis=0)
        self.gaps[n] = (gap.start, gap.end)
        self.gap_reasons.append(gap.reason)


class CameraStream:
    """`/raw/cameras/<name>`: every frame once, the camera's JPEG bytes (a `CameraFrameStore`), plus drops."""

    def __init__(self, parent: h5py.Group, layout: CameraLayout) -> None:
        self.layout = layout
        self.store = CameraFrameStore(parent, layout.name, layout.width, layout.height, chunk_frames=S.CAMERA_CHUNK)
        group = self.store.group
        for name, (_, unit) in S.CAMERA_FIELDS.items():
            group[name].attrs["unit"] = unit
        for k, v in (
            ("source_encoding", layout.encoding),
            ("fps", layout.fps),
            ("latency_s", layout.latency_s),
            ("spec", layout.spec),
        ):
            group.attrs[k] = v
        self.last_index: int | None = None
        self.dropped = 0

    @property
    def count(self) -> int:
        return self.store.count

    def append(self, frames: list[CameraFrame], mapped_times: np.ndarray | None = None) -> None:
        if not frames:
            return
        k = len(frames)
        grab = np.fromiter((fr.grab_time for fr in frames), np.float64, k)
        index = np.fromiter((fr.index for fr in frames), np.int64, k)
        mapped = grab - self.layout.latency_s if mapped_times is None else np.asarray(mapped_times, np.float64)
        prev = self.last_index if self.last_index is not None else index[0] - 1
        jumps = np.diff(np.concatenate([[prev], index])) - 1
        self.dropped += int(jumps[jumps > 0].sum())
        self.last_index = int(index[-1])
        self.store.append(frames, mapped)

    def flush(self) -> None:
        self.store.flush()


def write_root_attrs(f: h5py.File, meta: EpisodeMeta, state: str) -> None:
    a = f.attrs
    a[S.A_FORMAT] = S.FORMAT
    a[S.A_VERSION] = np.int64(S.VERSION)
    a[S.A_STATE] = str(state)  # h5py stores plain str only (a str Enum member is no str to it)
    a[S.A_CREATED] = meta.created_utc
    a[S.A_TASK] = meta.task
    a[S.A_OPERATOR] = meta.operator
    a[S.A_OUTCOME] = str(meta.outcome)
    a[S.A_NOTES] = meta.notes
    a[S.A_HAND] = meta.robot_hand
    a[S.A_EXO] = meta.exoskeleton
    a[S.A_FPS] = float(meta.nominal_fps)
    a[S.A_SOFTWARE] = meta.software_version
    a[S.A_PROFILE] = meta.calibration_profile_id
    a[S.A_NUMBER] = np.int64(meta.number)
    a[S.A_MAIN_CAMERA] = meta.main_camera
    a[S.A_CLOCK] = "host_monotonic"
    a[S.A_DURATION] = 0.0
    a[S.A_STOP_REASON] = ""


def create_aligned(
    f: h5py.File, joint_names: tuple[str, ...], action_names: tuple[str, ...], cameras: list[str]
) -> None:
    """Every dataset of the aligned view and the reports, empty: finalising then only resizes and writes,
    which SWMR allows (it does not reliably allow creating objects)."""
    A, J = len(action_names), len(joint_names)
    create_extendible(f, S.TIMESTAMPS, "f8", None, unit="s", clock="host_monotonic", source="")
    create_extendible(
        f,
        S.ACTION,
        "f4",
        A,
        names=list(action_names),
        unit="rad",
        definition="robot-hand joint command for the next step: qpos one aligned frame ahead, the last repeated",
    )
    create_extendible(
        f,
        S.QPOS,
        "f4",
        A,
        names=list(action_names),
        unit="rad",
        definition="robot-hand joints at the frame's instant (retargeted exoskeleton joints)",
    )
    create_extendible(f, S.EXO_JOINTS, "f4", J, names=list(joint_names), unit="rad")
    create_extendible(
        f, S.VALID, "u1", None, definition="1 if encoder samples of one clock segment bracket the instant within 25 ms"
    )
    f.require_group(S.IMAGES)
    f.require_group(S.IMAGE_OFFSETS)
    for cam in cameras:
        create_extendible(
            f,
            f"{S.IMAGES}/{cam}",
            "i8",
            None,
            raw=f"/{S.CAMERAS}/{cam}/{S.FRAMES}",
            encoding="jpeg",
            definition="index into the raw JPEG frames of this camera",
        )
        create_extendible(
            f,
            f"{S.IMAGE_OFFSETS}/{cam}",
            "f4",
            None,
            unit="s",
            definition="time of the referenced frame minus timestamps",
        )
    for name in (S.SYNC_REPORT, S.STATS):
        f.create_dataset(name, (0,), maxshape=(1,), dtype=h5py.string_dtype("utf-8"), chunks=(1,))


class EpisodeWriter:
    """Create with the episode's layout, `append_*` as data arrives, then `finalize()` or `close_partial()`."""

    def __init__(
        self,
        path: str | Path,
        meta: EpisodeMeta,
        encoder: EncoderLayout,
        cameras: list[CameraLayout],
        flush_interval_s: float = 0.25,
        action_names: tuple[str, ...] | None = None,
        extra: list | None = None,
        pose: list | None = None,
        devices: list | None = None,
        primary_role: str = "",
    ) -> None:
        """`extra`: `dexumi.episode.extra.ExtraLayout`s of extra streams (e.g. LSL) to record too;
        `pose`: `dexumi.episode.pose_stream.PoseLayout`s of wrist-pose streams; `devices`:
        `dexumi.episode.device_stream.DeviceLayout`s of further devices (`/raw/<role>`), `primary_role`
        the role of the exoskeleton in `/raw/encoder` (its `role` attribute)."""
        self.path = Path(path)
        self.meta = meta
        self.flush_interval_s = flush_interval_s
        if meta.outcome not in S.OUTCOMES:
            raise DexumiError(f"outcome must be one of {', '.join(S.OUTCOMES)}, not {meta.outcome!r}")
        try:
            self.f = h5py.File(self.path, "w", libver=S.LIBVER, rdcc_nbytes=CHUNK_CACHE_BYTES)
        except OSError as exc:
            raise DexumiError(f"cannot create episode file {self.path}: {exc}") from None
        f = self.f
        write_root_attrs(f, meta, EpisodeState.RECORDING)
        self.encoder = EncoderStream(f.create_group(S.ENCODER), encoder)
        cams = f.create_group(S.CAMERAS)
        self.cameras = {c.name: CameraStream(cams, c) for c in cameras}
        meta_g = f.create_group(S.META)
        _text(meta_g, "calibration_profile", meta.calibration_profile_yaml)
        _text(meta_g, "retarget_map", meta.retarget_map_yaml)
        _text(meta_g, "session", meta.session_json)
        create_aligned(f, encoder.joint_names, tuple(action_names or encoder.joint_names), [c.name for c in cameras])
        self.extra = {}
        if extra:
            from dexumi.episode.extra import EXTRA, ExtraStream

            xg = f.create_group(EXTRA)
            self.extra = {x.name: ExtraStream(xg, x) for x in extra}
        self.pose = {}
        if pose:
            from dexumi.episode.pose_stream import POSE, PoseStream
            from dexumi.episode.pose_view import create_pose_view

            pg = f.create_group(POSE)
            self.pose = {p.name: PoseStream(pg, p) for p in pose}
            create_pose_view(f, list(self.pose))
        self.devices = {}
        if primary_role:
            f[S.ENCODER].attrs["role"] = primary_role
        if devices or primary_role:
            from dexumi.episode.device_stream import DeviceStream, create_device_view

            self.devices = {d.role: DeviceStream(f, d) for d in devices or []}
            create_device_view(f, list(devices or []), primary_role)
        f.swmr_mode = True
        f.flush()
        self.started = time.monotonic()
        self._last_flush = self.started
        self.closed = False
        self.flushes = 0

    # ------------------------------------------------------------------------------------------ append
    def append_encoder(self, batches: list[EncoderBatch]) -> None:
        self.encoder.append(batches)

    def append_gap(self, gap: GapEvent) -> None:
        self.encoder.add_gap(gap)

    def append_frames(self, camera: str, frames: list[CameraFrame], mapped_times: np.ndarray | None = None) -> None:
        self.cameras[camera].append(frames, mapped_times)

    def append_extra(self, name: str, batches: list) -> None:
        self.extra[name].append(batches)

    def append_pose(self, name: str, batches: list) -> None:
        """`dexumi.episode.pose_stream.PoseBatch`es of one pose stream."""
        self.pose[name].append(batches)

    def append_device(self, role: str, batches: list[EncoderBatch]) -> None:
        """Batches of a further device (`/raw/<role>`)."""
        self.devices[role].append(batches)

    def append_device_gap(self, role: str, gap: GapEvent) -> None:
        self.devices[role].add_gap(gap)

    def maybe_flush(self, now: float | None = None) -> bool:
        """Flush if `flush_interval_s` has passed since the last flush; returns whether it flushed."""
        now = time.monotonic() if now is None else now
        if now - self._last_flush >= self.flush_interval_s:
            self.flush()
            return True
        return False

    def _buffered(self) -> list[_Buffered]:
        """The pose and further-device streams (rows they still batch go to the file on flush)."""
        return [*self.pose.values(), *self.devices.values()]

    def flush(self) -> None:
        for camera in self.cameras.values():  # frames the stores still batch go to the file first
            camera.flush()
        for p in self._buffered():
            p.write_pending()
        self.f.flush()
        self._last_flush = time.monotonic()
        self.flushes += 1

    def counts(self) -> dict[str, int]:
        out = {"encoder": self.encoder.count}
        out.update({name: c.count for name, c in self.cameras.items()})
        out.update({name: x.count for name, x in self.extra.items()})
        out.update({f"pose:{name}": p.count for name, p in self.pose.items()})
        out.update({role: d.count for role, d in self.devices.items()})
        return out

    # ------------------------------------------------------------------------------------------ end
    def finalize(
        self,
        outcome: str | None = None,
        notes: str | None = None,
        stop_reason: str = "stopped",
        retargeter: JointMapper | None = None,
        extra_stats: dict | None = None,
        device_retargeters: dict | None = None,
    ) -> Path:
        """Add the aligned view and reports, close, fsync, rename to the final name; returns that path."""
        from dexumi.episode.finalize import finalize_open_file

        if outcome is not None:
            if outcome not in S.OUTCOMES:
                raise DexumiError(f"outcome must be one of {', '.join(S.OUTCOMES)}, not {outcome!r}")
            self.meta.outcome = outcome
        if notes is not None:
            self.meta.notes = notes
        for camera in self.cameras.values():
            camera.flush()
        streams: list[_Stream] = [*self.extra.values(), *self.pose.values(), *self.devices.values()]
        for x in streams:
            x.finalize()
        finalize_open_file(
            self.f,
            self.meta,
            EpisodeState.FINAL,
            stop_reason,
            retargeter,
            extra_stats,
            gap_reasons=self.encoder.gap_reasons,
            camera_drops={k: c.dropped for k, c in self.cameras.items()},
            device_retargeters=device_retargeters,
        )
        self._close()
        return publish(self.path)

    def close_partial(self) -> None:
        """Flush and close without finalising (the file stays `.partial`, recoverable)."""
        if self.closed:
            return
        try:
            for camera in self.cameras.values():
                camera.flush()
            for p in self._buffered():
                p.write_pending()
            self.f.flush()
        except Exception as exc:  # noqa: BLE001 - closing after an I/O error must not raise again
            log.info("flush of %s failed while closing: %s", self.path, exc)  # the caller reports the cause
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.f.close()
        except Exception as exc:  # noqa: BLE001 - after a full disk: the caller reports the cause
            log.info("close of %s failed: %s", self.path, exc)


def publish(path: Path) -> Path:
    """fsync the file, rename `.partial`/`.recovering` → `.h5` (refusing to overwrite), fsync the folder."""
    final = S.final_path(path)
    if final == path:
        return path
    fsync_path(path)
    try:
        rename_no_clobber(path, final)  # never overwrites an episode
    except TargetExists:
        raise DexumiError(f"{final} already exists; refusing to overwrite it (the new data stays in {path})") from None
    try:
        fsync_path(final.parent)
    except OSError:
        pass
    return final
