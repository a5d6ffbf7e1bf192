"""Episodes rendered straight from the simulated world (no session, no processes): exact truth, fast.

`render_episode(path, times)` renders camera frames of the MuJoCo world at `times` (seconds of the wrist
script), writes them with the episode writer beside a 1 kHz encoder stream of the world's exoskeleton angles,
finalises, and returns the episode path and the truth: the camera's pose in the board frame (OpenCV axes) and
the world's `WorldTruth` at every frame. Frame k's recorded time is `t0 + times[k]` (its grab = mapped time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter
from dexumi.types import CameraFrame, EncoderBatch


@dataclass
class RenderedEpisode:
    path: Path
    times: np.ndarray  # recorded frame times (s)
    T_board_cam: np.ndarray  # (n, 4, 4) the camera in the board frame at every frame
    T_world_cam: np.ndarray  # (n, 4, 4) the camera in the world


def render_episode(
    path: str | Path,
    times: np.ndarray,
    camera: str = "wrist0",
    script: str = "pick",
    size: tuple[int, int] = (640, 480),
    t0: float = 100.0,
    number: int = 1,
) -> RenderedEpisode:
    """Render `camera` at `times` into a finished episode at `path` (`…/episode_NNNN.h5`)."""
    from dexumi.sim.world import World, world_config

    w, h = size
    world = World(world_config(w, h, cameras=2, script=script))
    r = world.renderer(camera)
    T_bw = np.linalg.inv(world.config.scene.board.T_world_board())
    times = np.asarray(times, np.float64)
    fps = float((len(times) - 1) / (times[-1] - times[0])) if len(times) > 1 else 30.0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = f"world:name={camera},fps={fps:g},width={w},height={h}"
    writer = EpisodeWriter(
        path.with_name(path.name + ".partial"),
        EpisodeMeta(number, nominal_fps=fps),
        EncoderLayout(world.channels, tuple(f"j{i}" for i in range(world.channels)), 1000.0),
        [CameraLayout(camera, w, h, "jpeg", fps, 0.0, spec)],
    )
    te = np.arange(times[0] - 0.05, times[-1] + 0.05, 1e-3)
    ang = world.angles_at(te)
    writer.append_encoder(
        [
            EncoderBatch(
                np.arange(len(te)),
                ((t0 + te) * 1e6).astype(np.int64),
                t0 + te,
                t0 + te,
                np.zeros(ang.shape, np.int32),
                ang,
                0,
            )
        ]
    )
    T_wc = np.empty((len(times), 4, 4))
    for k, t in enumerate(times):
        world.set_time(float(t))
        T_wc[k] = world.camera_pose(camera)
        writer.append_frames(camera, [CameraFrame(camera, k, t0 + float(t), r.jpeg(k), "jpeg", w, h, t0 + float(t))])
        writer.maybe_flush()
    r.close()
    final = writer.finalize()
    return RenderedEpisode(final, t0 + times, T_bw @ T_wc, T_wc)
