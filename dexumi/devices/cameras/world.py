"""A wrist camera of the simulated 3D rig (`world:` spec), rendered in its own process.

Frame k is *captured* at `t_k = start + k / fps` and shows the world (dexumi.sim) at `t_k - epoch`, the motion
epoch it shares with the encoder emulator; it is *delivered* `latency` later. The JPEG comes from a render
process (`dexumi.sim.camproc`) through a pipe, so a busy recorder never renders: it only reads bytes, exactly
as from an MJPG camera. Drops behave as the flat sim camera's: `drop=P` loses frames at random (the index
still advances), and a reader later than `buffers` frames loses the oldest (a V4L2 queue overrun). A render
process slower than real time makes frames late (never lost): `late_frames` counts them.

Where live rendering cannot keep up (a busy two-core machine), `prerender=SECONDS` renders the camera's
deterministic clip ahead of time (`prepare()`, or `open()`) (it measures its own render speed first and places frame 0
after the rendering will have finished), keeps the JPEGs in memory and plays them at native pacing: the same
frames and truth as live, only the wait moves to the start; like a file, a late reader gets every frame late
but none is lost. The clip ends after SECONDS (the source then ends). If rendering took longer than foreseen,
playing starts at the first frame still ahead (the earlier ones were never captured).
`truth()` is every frame's index, capture time, delivery time and whether it was lost; `world_truth()` the
world's truth streams (wrist, camera pose, forces, objects) at the capture times.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import numpy as np

from dexumi.devices.cameras.base import CameraLost, CameraSettings, CameraSource
from dexumi.devices.cameras.sim import TRUTH_DTYPE
from dexumi.errors import DexumiError
from dexumi.safe_output import write_atomic
from dexumi.types import CameraFrame
from firmware_bridge.emulator.process import die_with_parent

log = logging.getLogger(__name__)

F_SETPIPE_SZ = 1031


@dataclass
class WorldCameraConfig:
    name: str = "wrist0"  # the camera in the world (wrist0, wrist1) and the stream's name
    latency_s: float = 0.0
    fps: float = 30.0
    width: int = 640
    height: int = 480
    seed: int = 0
    epoch: float | None = None
    drop: float = 0.0
    motion: str = "grasp"
    script: str = "pick"
    joints: int | None = None  # encoder channels (default: the exoskeleton's actuated joints)
    quality: int = 80
    frames: int | None = None
    buffers: int = 4
    noise: float = 2.0
    exposure: float = 1.0
    cameras: int = 2  # wrist cameras in the world
    startup_timeout_s: float = 60.0
    prerender_s: float = 0.0  # > 0: render this many seconds ahead in open(), then play them (see above)

    def validate(self) -> None:
        if not (self.fps > 0 and self.width >= 32 and self.height >= 24):
            raise DexumiError(
                f"world camera: fps must be > 0 and size at least 32x24 (got {self.width}x"
                f"{self.height} at {self.fps:g} fps)"
            )
        if not 0 <= self.drop < 1:
            raise DexumiError(f"world camera: drop must be in [0, 1), got {self.drop:g}")
        if self.latency_s < 0:
            raise DexumiError(f"world camera: latency must be >= 0, got {self.latency_s:g} s")
        if not 1 <= self.quality <= 100:
            raise DexumiError(f"world camera: quality must be 1..100, got {self.quality}")
        if self.prerender_s < 0 or self.prerender_s > 3600:
            raise DexumiError(f"world camera: prerender must be in [0, 3600] s, got {self.prerender_s:g}")
        if self.cameras not in (1, 2):
            raise DexumiError(f"world camera: cameras must be 1 or 2, got {self.cameras}")
        if self.name not in [f"wrist{i}" for i in range(self.cameras)]:
            raise DexumiError(
                f"world camera: name must be one of the world's cameras "
                f"({', '.join(f'wrist{i}' for i in range(self.cameras))}), got {self.name!r}"
            )


class WorldCamera(CameraSource):
    """A world camera; frames are JPEG bytes with `device_time` = the (exact) delivery time."""

    counts_frames = True
    device_time_is_host_clock = True

    def __init__(self, config: WorldCameraConfig | None = None, spec: str = "world") -> None:
        config = config or WorldCameraConfig()
        config.validate()
        super().__init__(config.name, spec)
        self.config = config
        self.start_time = 0.0
        self.epoch = 0.0
        self.late_frames = 0
        self._next = 0
        self._drop_rng = np.random.default_rng(config.seed + 4242)
        self._truth: list[tuple[int, float, float, int]] = []
        self._proc: subprocess.Popen | None = None
        self._begun = False  # begin() told the render process when frame 0 is
        self._stderr: IO[str] | None = None
        self._drain: threading.Thread | None = None
        self._clip: list[tuple[float, bytes]] | None = None
        self.mode = "prerendered" if config.prerender_s > 0 else "live"

    @property
    def period_s(self) -> float:
        return 1.0 / self.config.fps

    def _args(self) -> str:
        c = self.config
        return json.dumps(
            {
                "camera": c.name,
                "width": c.width,
                "height": c.height,
                "fps": c.fps,
                "seed": c.seed,
                "motion": c.motion,
                "script": c.script,
                "channels": c.joints,
                "quality": c.quality,
                "frames": self._clip_frames(),
                "noise": c.noise,
                "exposure": c.exposure,
                "cameras": c.cameras,
            }
        )

    def _clip_frames(self) -> int | None:
        c = self.config
        if c.prerender_s > 0:
            n = int(round(c.prerender_s * c.fps))
            return n if c.frames is None else min(n, c.frames)
        return c.frames

    def _fail(self, what: str) -> DexumiError:
        err = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = [ln for ln in self._stderr.read().strip().splitlines() if ln.strip()]
            err = lines[-1].strip() if lines else ""
        self.close()
        return DexumiError(f"world camera {self.name}: {what}" + (f": {err}" if err else ""))

    def launch(self) -> WorldCamera:
        """Start the render process without waiting for it (cameras launched together start in parallel)."""
        if self._proc is not None:
            return self
        self._stderr = tempfile.TemporaryFile(mode="w+t")
        env = dict(os.environ)
        env.setdefault("MUJOCO_GL", "egl")
        env.setdefault("LP_NUM_THREADS", "0")  # llvmpipe rasterises in the render process's own thread: each
        # camera has its own process, so threads only add hand-offs (~10 % of a frame's CPU)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dexumi.sim.camproc", self._args()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        assert self._proc.stdout is not None  # stdout=PIPE
        try:
            fcntl.fcntl(self._proc.stdout.fileno(), F_SETPIPE_SZ, 1 << 20)  # ~20 frames of render-ahead
        except OSError:
            pass
        return self

    def spawn(self) -> float:
        """Start the render process (unless launched) and wait until it is ready; returns how long from now
        frame 0 must wait (the whole clip's rendering, when pre-rendering; a moment when live)."""
        c = self.config
        self.launch()
        ready = self._read_exact(9, c.startup_timeout_s)
        if len(ready) != 9 or ready[:1] != b"R":
            forget_world_probe()  # the cached "renders here" was wrong: the next start probes again
            raise self._fail("the render process did not start")
        per_frame = struct.unpack("<d", ready[1:])[0]
        if c.prerender_s > 0:  # frame 0 comes after the whole clip is rendered (with a margin)
            return 0.5 + 2.0 * per_frame * (self._clip_frames() or 0)  # cameras share the cores
        return 0.05

    def begin(self, start_time: float) -> WorldCamera:
        """Frame 0 is captured at `start_time` (host monotonic): the render process starts rendering."""
        c = self.config
        self.start_time = start_time
        self.epoch = c.epoch if c.epoch is not None else self.start_time
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(f"{self.start_time!r} {self.epoch!r}\n".encode())
        self._proc.stdin.flush()
        self._begun = True
        self._clip = None
        self._clip_error: BaseException | None = None
        self._drain = None
        if c.prerender_s > 0:
            self._drain = threading.Thread(target=self._render_clip, name=f"{self.name}-prerender", daemon=True)
            self._drain.start()
        return self

    def prepare(self, start_time: float | None = None) -> WorldCamera:
        """`spawn()` then `begin()`: rendering starts (a clip renders in the background); `open()` waits for it."""
        lead = self.spawn()
        now = time.monotonic()
        return self.begin(max(now + lead, start_time) if start_time is not None else now + lead)

    def _render_clip(self) -> None:
        clip = []
        try:
            for k in range(self._clip_frames() or 0):
                _, data = self._frame_bytes(k)
                clip.append((0.0, data))  # ready long before its time
        except BaseException as exc:  # noqa: BLE001 - reported by open()
            self._clip_error = exc
        self._clip = clip

    def open(self, start_time: float | None = None) -> WorldCamera:
        c = self.config
        if not self._begun:
            self.prepare(start_time)
        self.granted = CameraSettings(c.width, c.height, c.fps, "MJPG")
        self._next = 0
        self._truth.clear()
        self.late_frames = 0
        if self._drain is not None:
            self._drain.join()
            self._drain = None
            if self._clip_error is not None:
                raise self._fail(f"pre-rendering failed ({self._clip_error})")
            # rendering took longer than foreseen: the frames whose time has passed were never captured (the
            # camera was not open yet), so playing starts at the first frame still ahead
            ahead = time.monotonic() + 0.1
            while self._next < len(self._clip or []) and self.capture_time(self._next) + c.latency_s < ahead:
                self._next += 1
            log.info(
                "world camera %s: pre-rendered %d frames (%.1f s); playing from frame %d, %.1f s from now",
                self.name,
                len(self._clip or []),
                len(self._clip or []) / c.fps,
                self._next,
                float(self.capture_time(self._next)) + c.latency_s - time.monotonic(),
            )
        self.opened = True
        return self

    def _read_exact(self, n: int, timeout: float | None = None) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        if timeout is not None:
            import select

            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                r, _, _ = select.select([fd], [], [], min(left, 0.5))
                if r:
                    break
                if self._proc.poll() is not None:
                    return b""
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def _frame_bytes(self, k: int) -> tuple[float, bytes]:
        """(time the render process had frame k ready, its JPEG bytes)."""
        from dexumi.sim.camproc import HEADER

        head = self._read_exact(HEADER.size)
        if len(head) < HEADER.size:
            raise CameraLost(f"render process ended ({self._proc.poll() if self._proc else '?'})")
        index, _cap, ready, n = HEADER.unpack(head)
        data = self._read_exact(n)
        if index != k or len(data) != n:
            raise CameraLost(f"render process out of step (frame {index}, expected {k})")
        return ready, data

    def capture_time(self, index: np.ndarray | int) -> np.ndarray | float:
        return self.start_time + np.asarray(index) * self.period_s

    def read(self) -> CameraFrame | None:
        if not self.opened:
            raise DexumiError(f"camera {self.spec!r} is not open")
        c = self.config
        while True:
            k = self._next
            if c.frames is not None and k >= c.frames:
                return None
            self._next += 1
            asked = time.monotonic()
            cap_t = float(self.capture_time(k))
            deliver_t = cap_t + c.latency_s
            if self._clip is not None:
                if k >= len(self._clip):
                    return None  # the pre-rendered clip has ended
                ready, data = self._clip[k]
            else:
                ready, data = self._frame_bytes(k)
            lost = bool(c.drop and self._drop_rng.random() < c.drop)
            # a frame a real camera would have queued at deliver_t; a slow renderer only makes it late; a
            # pre-rendered clip plays like a file: a late reader gets every frame late, none lost
            if not lost and self._clip is None and asked - max(deliver_t, ready) > c.buffers * self.period_s:
                lost = True  # the reader is so late that the queue overran
                log.debug("world camera %s: queue overrun at frame %d", self.name, k)
            self._truth.append((k, cap_t, deliver_t, int(lost)))
            if not lost:
                break
        delay = deliver_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -self.period_s:
            self.late_frames += 1  # the renderer fell behind: late, not lost
        return CameraFrame(self.name, k, time.monotonic(), data, "jpeg", c.width, c.height, deliver_t)

    def truth(self) -> np.ndarray:
        """Every frame the camera reached so far: index, capture_time, deliver_time, lost."""
        return np.array(self._truth, dtype=TRUTH_DTYPE)

    def world_truth(self):
        """The world's truth streams (`dexumi.sim.world.WorldTruth`) at this camera's capture times."""
        from dexumi.sim.world import World, world_config

        c = self.config
        world = World(
            world_config(c.width, c.height, c.cameras, script=c.script, motion=c.motion, channels=c.joints, seed=c.seed)
        )
        t = self.truth()
        return world.truth(t["capture_time"] - self.epoch if len(t) else np.zeros(0))

    def close(self) -> None:
        self.opened = False
        self._begun = False
        p, self._proc = self._proc, None
        if p is not None:
            try:
                if p.stdin:
                    p.stdin.close()
            except OSError:
                pass
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 15)
                    p.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, 9)
                    except ProcessLookupError:
                        pass
                    p.wait()
            if p.stdout:
                p.stdout.close()
        err, self._stderr = self._stderr, None
        if err is not None:
            err.close()

    def config_dict(self) -> dict:
        return asdict(self.config)


_AVAILABLE: tuple[bool, str] | None = None


def _probe_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dexumi" / "world-probe.json"


def _probe_key(env: dict[str, str]) -> str:
    """What the probe's answer depends on: the interpreter, mujoco's build and the GL choices."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        mj = version("mujoco")
    except PackageNotFoundError:
        mj = ""
    gl = {
        k: env.get(k, "")
        for k in (
            "MUJOCO_GL",
            "PYOPENGL_PLATFORM",
            "EGL_PLATFORM",
            "LIBGL_ALWAYS_SOFTWARE",
            "MUJOCO_EGL_DEVICE_ID",
            "__EGL_VENDOR_LIBRARY_FILENAMES",
        )
    }
    return json.dumps({"python": sys.executable, "mujoco": mj, **gl}, sort_keys=True)


def forget_world_probe() -> None:
    """Drop the cached probe answer (a render process failed to start although the probe said it would)."""
    global _AVAILABLE
    _AVAILABLE = None
    with contextlib.suppress(OSError):
        _probe_cache().unlink()


def world_available(timeout: float = 60.0) -> tuple[bool, str]:
    """(True, '') when the world can render offscreen here; else (False, one-line reason). Probed in a child (a
    missing GL library must not take the caller down); a success is remembered in ~/.cache/dexumi for this
    interpreter, mujoco version and GL settings, since the probe costs seconds of every recorder start."""
    global _AVAILABLE
    if _AVAILABLE is not None:
        return _AVAILABLE
    import importlib.util

    if importlib.util.find_spec("mujoco") is None:  # not imported here: MUJOCO_GL is read at import
        _AVAILABLE = (False, "the mujoco package is not installed")
        return _AVAILABLE
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    key = _probe_key(env)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(_probe_cache().read_text()).get("ok_for") == key:
            _AVAILABLE = (True, "")
            return _AVAILABLE
    code = (
        "import os; os.environ.setdefault('MUJOCO_GL','egl'); import mujoco; "
        'm=mujoco.MjModel.from_xml_string(\'<mujoco><worldbody><geom size="1 1 .1" type="plane"/>'
        "</worldbody></mujoco>'); r=mujoco.Renderer(m,24,32); d=mujoco.MjData(m); r.update_scene(d); r.render()"
    )
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        _AVAILABLE = (False, "offscreen rendering did not start in time")
        return _AVAILABLE
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        _AVAILABLE = (
            False,
            f"offscreen rendering fails (MUJOCO_GL={env['MUJOCO_GL']}): "
            f"{lines[-1].strip() if lines else 'exit ' + str(p.returncode)}",
        )
    else:
        _AVAILABLE = (True, "")
        with contextlib.suppress(OSError):  # a read-only home only costs the probe next time
            _probe_cache().parent.mkdir(parents=True, exist_ok=True)
            write_atomic(_probe_cache(), json.dumps({"ok_for": key}).encode())
    return _AVAILABLE
