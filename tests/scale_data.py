"""Many short episodes, fast: written through the episode writer API (as benchmarks/validate_export.py does),
small JPEG cameras, a 500 Hz encoder with smooth in-range motion, finalised with the bundled Inspire map."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_episodes(
    folder: Path,
    n: int,
    seconds: float = 1.0,
    size: tuple[int, int] = (96, 64),
    fps: float = 30.0,
    rate: float = 500.0,
    cameras: tuple[str, ...] = ("wrist0",),
) -> list[Path]:
    import cv2

    from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
    from dexumi.episode.writer import EpisodeWriter
    from dexumi.session.retarget import MAPS_DIR, load_retargeter
    from dexumi.types import CameraFrame, EncoderBatch

    rt, map_text = load_retargeter(MAPS_DIR / "inspire.yaml", 6)
    folder.mkdir(parents=True, exist_ok=True)
    W, H = size
    rng = np.random.default_rng(0)
    jpegs = []
    for k in range(30):
        img = np.full((H, W, 3), 40, np.uint8)
        cv2.rectangle(img, (2 + k, H // 4), (W // 3 + k, 3 * H // 4), (200, 180, 160), -1)
        img = cv2.add(img, rng.integers(0, 25, img.shape, dtype=np.uint8))
        jpegs.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    hi = np.array([1.3, 0.6, 1.4, 1.4, 1.4, 1.4])
    out = []
    for e in range(1, n + 1):
        meta = EpisodeMeta(
            number=e,
            task="scale test",
            robot_hand="inspire_like",
            exoskeleton="inspire_exo",
            nominal_fps=fps,
            retarget_map_yaml=map_text,
            main_camera=cameras[0],
            software_version="test",
        )
        enc = EncoderLayout(channels=6, joint_names=tuple(rt.channels), nominal_rate_hz=rate)
        cams = [CameraLayout(c, W, H, fps=fps) for c in cameras]
        w = EpisodeWriter(
            folder / f"episode_{e:04d}.h5.partial", meta, enc, cams, action_names=tuple(rt.robot_joint_names)
        )
        t0 = 1000.0 + 100 * e
        idx = np.arange(0, int(seconds * rate), dtype=np.int64)
        t = t0 + idx / rate
        phase = 2 * np.pi * (t[:, None] - t0) / np.array([3.1, 4.3, 2.7, 3.3, 3.7, 4.1]) + 0.3 * e
        ang = 0.05 + (hi - 0.05) * (0.5 - 0.5 * np.cos(phase))
        w.append_encoder([EncoderBatch(idx, idx * int(1e6 / rate), t, t, (ang * 1e5).astype(np.int32), ang)])
        for k in range(int(seconds * fps)):
            for c in cameras:
                w.append_frames(c, [CameraFrame(c, k, t0 + k / fps + 0.002, jpegs[(k + e) % 30], "jpeg", W, H)])
        w.maybe_flush()
        out.append(w.finalize("success" if e % 5 else "failure", retargeter=rt))
    return out


def die_once(flag: str, value: int) -> int:
    """A batch task whose first run kills its own worker process (SIGKILL, as the OOM killer would)."""
    import os
    import signal

    if not os.path.exists(flag):
        with open(flag, "w") as fh:
            fh.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 10


class Video:
    """An MP4 compared by its decoded frames: same count, PSNR >= 40 dB each. x264 runs single-threaded and
    deterministic, yet one video in ~50 has come out with other bytes between engines (open: the frames
    given to it must differ slightly — found in the Ray cluster test); every other output stays byte-compared."""

    def __init__(self, path: Path) -> None:
        self.path, self.data = path, path.read_bytes()

    def frames(self) -> list:
        import av

        with av.open(str(self.path)) as c:
            return [f.to_ndarray(format="rgb24").astype(float) for f in c.decode(video=0)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Video):
            return NotImplemented
        if self.data == other.data:
            return True
        a, b = self.frames(), other.frames()
        return len(a) == len(b) and all(np.mean((x - y) ** 2) <= 255.0**2 / 1e4 for x, y in zip(a, b))

    def __repr__(self) -> str:
        return f"Video({self.path.name}, {len(self.data)} bytes)"


def tree_bytes(root: Path, skip: tuple[str, ...] = (".dexumi-export.json",)) -> dict[str, bytes | Video]:
    """Every file under `root` (relative path → bytes; videos → `Video`), without the output marker (it names
    the writer's pid)."""
    return {
        p.relative_to(root).as_posix(): (Video(p) if p.suffix == ".mp4" else p.read_bytes())
        for p in sorted(Path(root).rglob("*"))
        if p.is_file() and p.name not in skip
    }


class Interrupted(Exception):
    """What a killed driver looks like to the code that ran the engine."""


class CountingEngine:
    """A one-worker local engine that counts the tasks it ran (manifest skips never reach it); with `stop_after`
    it fails after that many, as a killed driver would (the rest never ran)."""

    name = "counting"

    def __init__(self, stop_after: int | None = None) -> None:
        from dexumi.batch import LocalEngine

        self.n, self.ran, self.inner = stop_after, 0, LocalEngine(1)

    @property
    def workers(self) -> int:
        return 1

    def run(self, tasks):
        for o in self.inner.run(tasks):
            self.ran += 1
            yield o
            if self.n is not None and self.ran >= self.n:
                raise Interrupted

    def close(self) -> None:
        pass
