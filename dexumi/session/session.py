"""The headless recording session: devices → sync → retarget → writer, and the episode lifecycle.

One poll thread drains the encoder and the camera grabbers every `poll_interval_s` (also when idle, so the
live status is current and buffers never fill) and appends to the episode being recorded. Commands
(`start_episode`, `stop_episode`, `discard_episode`, ...) come from any thread — the CLI, or the JSON-lines
server the GUI talks to — and take the same lock as the poll thread. Whatever the session drains is also
handed to its listeners (`add_listener`: the recorder's live view; `add_pose_listener` for the wrist-pose
batches), never by patching the devices.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dexumi import __version__
from dexumi.episode import numbering
from dexumi.episode.folderlock import FolderLock
from dexumi.episode import schema as S
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.metadata import discard
from dexumi.episode.recover import RecoveryResult, recover_path
from dexumi.episode.writer import EpisodeWriter
from dexumi.errors import DexumiError
from dexumi.session import disk
from dexumi.session.config import SessionConfig, SessionStatus, StreamStatus
from dexumi.session.devices import Devices, open_devices, wait_for_data
from dexumi.session.retarget import choose_map, load_retargeter
from dexumi.types import CameraFrame, EncoderBatch, StreamStats
from dexumi.vocab import SessionState

if TYPE_CHECKING:
    from dexumi.episode.pose_stream import PoseBatch
    from dexumi.session.lsl_bridge import LslBridge
    from dexumi.session.device_set import DeviceSet
    from dexumi.session.pose_bridge import PoseBridge

log = logging.getLogger(__name__)
DISK_CHECK_S = 0.5
# called on the poll thread with every drain: encoder batches, camera name → frames (keep it cheap)
Listener = Callable[[list[EncoderBatch], dict[str, list[CameraFrame]]], None]
# called on the poll thread with every pose poll: pose source name → its new batches (keep it cheap)
PoseListener = Callable[[dict[str, list["PoseBatch"]]], None]


def _notify(listeners: list, what: str, *args: object) -> None:
    """Call every listener (a copy of the list: one may remove itself); a failing one is logged, never fatal."""
    for listener in list(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception(what)


def _since(batch: EncoderBatch, t0: float) -> EncoderBatch | None:
    """The samples of `batch` that arrived at or after `t0`."""
    if batch.host_time[0] >= t0:
        return batch
    k = int(np.searchsorted(batch.host_time, t0, side="left"))
    if k >= len(batch):
        return None
    return EncoderBatch(
        batch.index[k:],
        batch.device_time_us[k:],
        batch.host_time[k:],
        batch.mapped_time[k:],
        batch.raw[k:],
        batch.angles[k:],
        batch.segment,
    )


class RecordingSession:
    """`open()`, then `start_episode()` / `stop_episode()` as often as wanted, `status()` any time, `close()`."""

    def __init__(self, config: SessionConfig) -> None:
        self.cfg = config
        self.out_dir = Path(config.out_dir)
        self.devices: Devices | None = None
        self.retargeter = None
        self.map_yaml = ""
        self.joint_names: tuple[str, ...] = ()
        self.recovered: list[RecoveryResult] = []
        self.errors: list[str] = []
        self.fatal: str | None = None  # set when recording had to stop (disk full, ...)
        self.episode_ended = threading.Event()  # set whenever an episode ends (by command or by the session)
        self.last_episode: Path | None = None
        self.episodes_recorded = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: EpisodeWriter | None = None
        self._meta: EpisodeMeta | None = None
        self._t0 = 0.0
        self._link0: StreamStats | None = None  # the encoder link's counters when the episode started
        self._gaps_seen = 0
        self._free_mb = 0.0
        self._next_disk_check = 0.0
        self._totals: dict[str, int] = {}
        self._drops0: dict[str, int] = {}  # each stream's session drop count when the episode started
        self.last_episode_dropped: dict[str, int] = {}  # drops during the last finished episode, per stream
        self.state = "new"
        self._folder_lock: FolderLock | None = None
        from dexumi.quality.session_hook import EpisodeQA

        self._qa = EpisodeQA(config.drift_every)
        self.lsl: LslBridge | None = None  # lsl:NAME inlets and dexumi's outlets
        self.pose: PoseBridge | None = None  # --pose sources
        self.multi: DeviceSet | None = None  # further devices by role (--device, --sim-devices)
        self.primary_role = ""  # the role of the exoskeleton in /raw/encoder ("" for a one-device session)
        self.qa_lines: list[str] = []
        self._listeners: list[Listener] = []
        self._pose_listeners: list[PoseListener] = []

    # --------------------------------------------------------------------------------------------- life
    def open(self) -> RecordingSession:
        self.out_dir = disk.check_writable(self.out_dir)
        self._folder_lock = FolderLock(self.out_dir).acquire()  # one recorder per folder, for the session's life
        try:
            self._open_locked()
        except BaseException:
            self._release_folder()
            raise
        return self

    def _release_folder(self) -> None:
        if self._folder_lock is not None:
            self._folder_lock.release()
            self._folder_lock = None

    def _open_locked(self) -> None:
        cfg = self.cfg
        self._free_mb = disk.check_space(self.out_dir, cfg.min_free_mb)
        if cfg.recover_on_start and numbering.unfinished(self.out_dir):
            self.recovered = recover_path(self.out_dir, progress=True)
            for r in self.recovered:
                if r.action == "skipped":
                    continue  # recover_path logged the one-line reason; recording goes on
                log.warning("%s %s → %s (%s)", r.action, r.source.name, r.path.name if r.path else "-", r.message)
        from dexumi.session.device_set import apply_primary, plan_devices

        primary, further = plan_devices(cfg)
        self.primary_role = apply_primary(cfg, primary)
        self.devices = open_devices(cfg)
        try:
            joints = self.devices.encoder.joints
            mp = choose_map(cfg.map_path, cfg.hand, joints)
            self.retargeter, self.map_yaml = load_retargeter(mp, joints)
            self.joint_names = (
                tuple(self.retargeter.channels) if self.retargeter else tuple(f"ch{i}" for i in range(joints))
            )
            wait_for_data(self.devices, cfg.device_timeout_s)
            if cfg.lsl_streams or cfg.lsl_outlets:
                from dexumi.session.lsl_bridge import LslBridge

                self.lsl = LslBridge(cfg, self.devices, self.joint_names)
            if cfg.pose_sources:
                from dexumi.session.pose_bridge import PoseBridge

                from dexumi.tracking.lenses import profile_lenses

                self.pose = PoseBridge(
                    cfg.pose_sources,
                    cfg.latencies_s,
                    self.devices.sim_epoch,
                    cfg.device_timeout_s,
                    self.devices.cameras,
                    profile_lenses(cfg.profile_yaml),
                )
            if further:
                from dexumi.session.device_set import DeviceSet

                self.multi = DeviceSet.open(further, cfg, self.devices.sim_epoch, cfg.device_calibrations)
                from dexumi.devices.coalesce import coalesce

                coalesce(self.devices.encoder)  # several readers: each reads every ~8 ms, not every frame
        except BaseException:
            if self.pose is not None:
                self.pose.close()
            if self.lsl is not None:
                self.lsl.close()
            self.devices.close()
            raise
        self._gaps_seen = len(self.devices.encoder.stats().gap_events)
        self.state = "idle"
        self._thread = threading.Thread(target=self._run, name="session-poll", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Finish a running episode (finalised, reason 'shutdown'), stop the poll thread and the devices."""
        if self.state == SessionState.CLOSED:
            return
        with self._lock:
            if self._writer is not None:
                try:
                    self._stop_locked(None, None, "shutdown")
                except Exception as exc:  # noqa: BLE001 - shutdown goes on; the partial file is recoverable
                    self._error(f"could not finalise on shutdown: {exc}")
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.lsl is not None:
            self.lsl.close()
        if self.pose is not None:
            self.pose.close()
        if self.multi is not None:
            self.multi.close()
        if self.devices is not None:
            self.devices.close()
        self._release_folder()
        self.state = "closed"

    def __enter__(self) -> RecordingSession:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------- episodes
    @property
    def recording(self) -> bool:
        return self._writer is not None

    def missing_streams(self, required: list[str] | None = None, max_age_s: float = 1.0) -> list[str]:
        """Which of the required streams (config + `required`) are absent, disconnected or silent."""
        want = list(dict.fromkeys([*self.cfg.required_streams, *(required or [])]))
        have = {s.name: s for s in self.status().streams}
        return [n for n in want if n not in have or not have[n].connected or not (have[n].last_data_age_s <= max_age_s)]

    def start_episode(
        self, task: str | None = None, notes: str = "", operator: str | None = None, required: list[str] | None = None
    ) -> int:
        """Reserve the next number and start writing; returns the episode number. `task`/`operator` None:
        the session's. The required-streams gate: no episode starts while a required stream is missing."""
        missing = self.missing_streams(required)
        if missing:
            raise DexumiError(f"not starting: required stream(s) missing: {', '.join(missing)}")
        with self._lock:
            if self.state not in (SessionState.IDLE,):
                raise DexumiError(f"cannot start an episode while the session is {self.state}")
            self._free_mb = disk.check_space(self.out_dir, self.cfg.min_free_mb)
            number, path = numbering.reserve(self.out_dir)
            assert self.devices is not None
            enc = self.devices.encoder
            cams = [
                CameraLayout(c.name, c.width, c.height, c.encoding, c.fps, c.latency_s, c.spec)
                for c in self.devices.cameras
            ]
            rmap = self.retargeter.map if self.retargeter else None
            meta = EpisodeMeta(
                number=number,
                task=self.cfg.task if task is None else task,
                operator=self.cfg.operator if operator is None else operator,
                robot_hand=rmap.robot if rmap else "",
                exoskeleton=(rmap.exoskeleton or "") if rmap else "",
                nominal_fps=cams[0].fps if cams else 30.0,
                software_version=f"dexumi {__version__}",
                calibration_profile_id=self.cfg.profile_id,
                calibration_profile_yaml=self.cfg.profile_yaml,
                retarget_map_yaml=self.map_yaml,
                main_camera=self.cfg.main_camera or (cams[0].name if cams else ""),
                notes=notes,
                session_json=json.dumps(self.cfg.to_json()),
            )
            layout = EncoderLayout(
                enc.channels,
                self.joint_names,
                enc.stats().nominal_rate_hz,
                float(self.cfg.latencies_s.get("encoder", 0.0)),
                (enc.info.device_id if enc.info else "") + f" @ {enc.config.port}",
            )
            try:
                self._writer = EpisodeWriter(
                    path,
                    meta,
                    layout,
                    cams,
                    self.cfg.flush_interval_s,
                    tuple(self.retargeter.robot_joint_names) if self.retargeter else None,
                    self.lsl.layouts() if self.lsl else None,
                    self.pose.layouts() if self.pose else None,
                    self.multi.layouts() if self.multi else None,
                    self.primary_role,
                )
            except Exception:
                path.unlink(missing_ok=True) if path.exists() and path.stat().st_size == 0 else None
                raise
            self._meta = meta
            self._t0 = time.monotonic()
            self._drops0 = {st.name: st.dropped for st in self.status().streams}
            self._link0 = self.devices.encoder.stats() if self.devices is not None else None
            self._gaps_seen = len(enc.stats().gap_events)
            if self.multi is not None:
                self.multi.mark_gaps_seen()
            self.episode_ended.clear()
            self.state = "recording"
            if self.lsl is not None:
                self.lsl.marker(f"start {S.episode_name(number)}")
            log.info("episode %d started: %s", number, path)
            return number

    def stop_episode(self, outcome: str | None = None, notes: str | None = None, reason: str = "stopped") -> Path:
        """Stop, finalise and publish the episode; returns the finished file's path."""
        with self._lock:
            if self._writer is None:
                raise DexumiError("no episode is being recorded")
            return self._stop_locked(outcome, notes, reason)

    def discard_episode(self) -> Path:
        """Stop without finalising and keep the file as `.discarded` (its number stays taken)."""
        with self._lock:
            if self._writer is None:
                raise DexumiError("no episode is being recorded")
            w = self._writer
            self._writer = None
            w.close_partial()
            target = discard(w.path, record=False)
            self.state = "idle"
            self.episode_ended.set()
            log.info("episode %d discarded: %s", w.meta.number, target)
            return target

    def set_outcome(self, outcome: str) -> None:
        if outcome not in S.OUTCOMES:
            raise DexumiError(f"outcome must be one of {', '.join(S.OUTCOMES)}, not {outcome!r}")
        with self._lock:
            if self._meta is not None:
                self._meta.outcome = outcome
            elif self.last_episode is not None:
                self._edit_last(S.A_OUTCOME, outcome)

    def set_notes(self, notes: str) -> None:
        with self._lock:
            if self._meta is not None:
                self._meta.notes = notes
            elif self.last_episode is not None:
                self._edit_last(S.A_NOTES, notes)

    def _edit_last(self, key: str, value: str) -> None:
        """Marking success/failure after stopping: an atomic, logged attribute edit of the finished file."""
        from dexumi.episode.metadata import edit_file

        assert self.last_episode is not None  # the callers check it
        edit_file(self.last_episode, {key: value})

    # ------------------------------------------------------------------------------------------ polling
    def add_listener(self, listener: Listener) -> None:
        """Also hand everything drained from the devices to `listener` (on the poll thread; keep it cheap)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_pose_listener(self, listener: PoseListener) -> None:
        """Also hand every pose source's new samples to `listener` (on the poll thread; keep it cheap)."""
        self._pose_listeners.append(listener)

    def remove_pose_listener(self, listener: PoseListener) -> None:
        if listener in self._pose_listeners:
            self._pose_listeners.remove(listener)

    def _poll_pose(self) -> dict[str, list[PoseBatch]]:
        """What the pose sources delivered since the last poll, shown to the pose listeners."""
        if self.pose is None:
            return {}
        pose = self.pose.poll()
        _notify(self._pose_listeners, "session pose listener", pose)
        return pose

    def _drain(self) -> tuple[list[EncoderBatch], dict[str, list[CameraFrame]]]:
        """Everything the devices buffered since the last drain, shown to the listeners."""
        assert self.devices is not None
        enc_batches = self.devices.encoder.read()
        frames = {c.name: c.grabber.read() for c in self.devices.cameras}
        if self.pose is not None:
            self.pose.feed(frames)  # pose:board:CAMERA tracks the session's own camera CAMERA
        _notify(self._listeners, "session listener", enc_batches, frames)
        return enc_batches, frames

    def _run(self) -> None:
        while not self._stop.wait(self.cfg.poll_interval_s):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - the thread reports and keeps the devices drained
                self._error(f"poll failed: {type(exc).__name__}: {exc}")

    def poll(self) -> None:
        """Drain the devices once; append to the episode if recording (called by the poll thread).

        Read and write under one lock: a stop between the devices' read and the append would finalise the episode
        without the samples this poll had already taken from the devices, and they would be lost."""
        assert self.devices is not None
        with self._lock:
            enc_batches, frames = self._drain()
            extra: dict[str, list] = {}
            if self.lsl is not None:
                extra = self.lsl.poll(enc_batches, frames, self.devices.cameras)
            pose = self._poll_pose()
            more = self.multi.read() if self.multi is not None else {}
            self._totals["encoder"] = self._totals.get("encoder", 0) + sum(len(b) for b in enc_batches)
            for name, fr in frames.items():
                self._totals[name] = self._totals.get(name, 0) + len(fr)
            w = self._writer
            if w is None:
                return
            try:
                self._append(w, enc_batches, frames, extra, pose, more)
                gaps = self.devices.encoder.stats().gap_events
                for g in gaps[self._gaps_seen :]:
                    w.append_gap(g)
                self._gaps_seen = len(gaps)
                w.maybe_flush()
                self._check_disk()
            except DexumiError:
                raise
            except Exception as exc:  # noqa: BLE001 - HDF5 reports ENOSPC as OSError or RuntimeError
                self._on_write_error(exc)

    def _append(
        self,
        w: EpisodeWriter,
        enc_batches: list[EncoderBatch],
        frames: dict[str, list[CameraFrame]],
        extra: dict[str, list],
        pose: dict[str, list[PoseBatch]],
        more: dict[str, list[EncoderBatch]] | None = None,
    ) -> None:
        """What was drained (`more`: further devices by role), from the episode's start on, into its file."""
        assert self.devices is not None
        w.append_encoder([b for b in (_since(b, self._t0) for b in enc_batches) if b is not None])
        for cam in self.devices.cameras:
            fr = [f for f in frames[cam.name] if f.grab_time >= self._t0]
            if fr:
                w.append_frames(cam.name, fr, cam.mapped_times(fr))
        for name, xb in extra.items():
            assert self.lsl is not None  # extra streams come from the LSL bridge
            w.append_extra(name, self.lsl.since(xb, self._t0))
        for name, pb in pose.items():
            assert self.pose is not None  # pose streams come from the pose bridge
            w.append_pose(name, self.pose.since(pb, self._t0))
        for role, mb in (more or {}).items():
            w.append_device(role, [b for b in (_since(b, self._t0) for b in mb) if b is not None])
        if self.multi is not None:
            for role, new in self.multi.new_gaps().items():
                for g in new:
                    w.append_device_gap(role, g)

    def _check_disk(self) -> None:
        now = time.monotonic()
        if now < self._next_disk_check:
            return
        self._next_disk_check = now + DISK_CHECK_S
        self._free_mb = disk.free_mb(self.out_dir)
        if self._free_mb < self.cfg.min_free_mb and self._writer is not None:
            n = self._writer.meta.number
            # set before the episode ends, so whoever waits for the end sees why
            self.fatal = f"disk almost full: {self._free_mb:.0f} MB left in {self.out_dir}; episode {n} stopped"
            path = self._stop_locked(None, None, "disk almost full")
            self._fatal(
                f"disk almost full: {self._free_mb:.0f} MB left in {self.out_dir} (threshold "
                f"{self.cfg.min_free_mb:.0f} MB); episode {n} stopped and saved as {path.name}"
            )

    def _on_write_error(self, exc: BaseException) -> None:
        w = self._writer
        self._writer = None
        self.state = "error"
        if w is not None:
            w.close_partial()
        name = w.path.name if w else "?"
        if disk.is_disk_full(exc) or disk.free_mb(self.out_dir) < 1.0:
            self._fatal(
                f"disk full while recording: data up to the last flush (≤ {self.cfg.flush_interval_s:g} s "
                f"before) is in {name}; free space, then run `dexumi recover {self.out_dir}`"
            )
        else:
            self._fatal(f"write error while recording {name}: {exc}; the file is recoverable with `dexumi recover`")
        self.episode_ended.set()

    def _link_counts(self) -> dict[str, int]:
        """The encoder link's error counters during this episode (CRC/checksum, resync, duplicates, ...)."""
        assert self.devices is not None
        now = self.devices.encoder.stats()
        start = self._link0
        keys = (
            "crc_errors",
            "resync_bytes",
            "gaps",
            "missing_samples",
            "duplicates",
            "out_of_order",
            "reconnects",
            "device_resets",
            "overflows",
            "device_errors",
        )
        return {k: int(getattr(now, k)) - (int(getattr(start, k)) if start is not None else 0) for k in keys}

    def _stop_locked(self, outcome: str | None, notes: str | None, reason: str) -> Path:
        w = self._writer
        assert w is not None and self.devices is not None
        self.last_episode_dropped = {st.name: st.episode_dropped for st in self.status().streams}
        self._writer = None
        finalised = False
        try:
            # what arrived up to now belongs to the episode
            enc_all, cam_all = self._drain()
            # the outlets get these last samples too
            extra: dict[str, list] = {}
            if self.lsl is not None:
                extra = self.lsl.poll(enc_all, cam_all, self.devices.cameras)
            if self.pose is not None:
                self.pose.settle()  # board sources: the episode's last frames tracked too
            pose = self._poll_pose()
            # further devices: their last samples and gaps
            more = self.multi.read() if self.multi is not None else {}
            self._append(w, enc_all, cam_all, extra, pose, more)
            t_final = time.perf_counter()
            path = w.finalize(
                outcome,
                notes,
                reason,
                self.retargeter,
                {
                    "elapsed_s": time.monotonic() - self._t0,
                    "flushes": w.flushes,
                    "camera_drops": {k: c.dropped for k, c in w.cameras.items()},
                    "encoder_overflows": self.devices.encoder.stats().overflows,
                    "link": self._link_counts(),
                },
                device_retargeters=self.multi.retargeters() if self.multi is not None else None,
            )
            log.info("episode %d finalised in %.3f s: %s", w.meta.number, time.perf_counter() - t_final, path)
            finalised = True
        except (OSError, RuntimeError) as exc:
            self._writer = w
            self._on_write_error(exc)
            raise DexumiError(self.fatal or str(exc)) from None
        finally:
            self._meta = None
            if self.state == SessionState.RECORDING:
                self.state = "idle"
            if not finalised:
                self.episode_ended.set()
        self.last_episode = path
        self.episodes_recorded += 1
        if self.lsl is not None:
            self.lsl.marker(f"stop {S.episode_name(w.meta.number)} {w.meta.outcome} {reason}")
        try:
            self.qa_lines = self._qa.after(path)  # latency self-check and calibration drift, one line each
        finally:
            self.episode_ended.set()  # last: whoever waits for the end sees last_episode and qa_lines
        return path

    # ------------------------------------------------------------------------------------------- status
    def _error(self, msg: str) -> None:
        log.error("%s", msg)
        self.errors.append(msg)
        del self.errors[:-50]

    def _fatal(self, msg: str) -> None:
        """Recording had to stop: the caller reports `fatal` (the CLI's one error line, the GUI's status)."""
        self.fatal = msg
        log.info("%s", msg)
        self.errors.append(msg)
        del self.errors[:-50]

    def status(self) -> SessionStatus:
        streams = []
        w = self._writer
        counts = w.counts() if w is not None else {}
        if self.devices is not None:
            s = self.devices.encoder.stats()
            streams.append(
                StreamStatus(
                    "encoder",
                    "encoder",
                    s.connected,
                    s.rate_hz,
                    s.nominal_rate_hz,
                    self._totals.get("encoder", 0),
                    counts.get("encoder", 0),
                    s.missing_samples + s.overflows,
                    s.gaps + len(s.gap_events),
                    s.reconnects,
                    s.last_data_age_s,
                    s.drift_ppm,
                    s.residual_ms,
                )
            )
            for cam in self.devices.cameras:
                c = cam.grabber.stats()
                streams.append(
                    StreamStatus(
                        cam.name,
                        "camera",
                        c.connected,
                        c.rate_hz,
                        c.nominal_rate_hz,
                        self._totals.get(cam.name, 0),
                        counts.get(cam.name, 0),
                        c.missing_samples + c.overflows,
                        c.gaps,
                        c.reconnects,
                        c.last_data_age_s,
                    )
                )
        if self.multi is not None:
            streams += self.multi.statuses(counts)
        if self.lsl is not None:
            streams += self.lsl.statuses(time.monotonic())
        pose_health: list[dict[str, Any]] = []
        if self.pose is not None:
            from dataclasses import asdict

            streams += self.pose.statuses(time.monotonic(), counts)
            pose_health = [asdict(h) for h in self.pose.health()]
        for st in streams:
            st.episode_dropped = (
                st.dropped - self._drops0.get(st.name, st.dropped)
                if w is not None
                else self.last_episode_dropped.get(st.name, 0)
            )
        meta = self._meta
        return SessionStatus(
            state=self.state,
            out_dir=str(self.out_dir),
            episode=w.meta.number if w else None,
            episode_path=str(w.path) if w else None,
            elapsed_s=time.monotonic() - self._t0 if w else 0.0,
            last_episode=str(self.last_episode) if self.last_episode else None,
            episodes_recorded=self.episodes_recorded,
            disk_free_mb=round(self._free_mb, 1),
            min_free_mb=self.cfg.min_free_mb,
            streams=streams,
            errors=list(self.errors),
            outcome=meta.outcome if meta else "unknown",
            notes=meta.notes if meta else "",
            quality=list(self.qa_lines),
            pose=pose_health,
        )
