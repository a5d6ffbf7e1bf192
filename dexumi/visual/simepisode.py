"""An episode filmed in the simulated rig, with the calibration profile the visual bridge needs.

`write_sim_episode(path, seconds, size)` records the world (`dexumi.sim`) as the recorder would store it —
encoder angles at 500 Hz, wrist-camera JPEGs at `fps`, the aligned view retargeted onto the robot hand — with
no clock error and no latency, so aligned instant i shows the world at `start_s + i / fps`. The profile in
`meta/calibration_profile` holds every camera's intrinsics and its mount (`camera_mounts`): the rig's true
mount, or `mounts` given (e.g. a calibrated one, or none to make an uncalibrated episode). Used by the tests,
the benchmark and `dexumi render --sim-episode`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexumi.visual.mount import CameraMount, mounts_to_dict

RATE_HZ = 500.0
T0 = 100.0  # host time of world time 0


def sim_profile_yaml(world, mounts: dict[str, CameraMount] | None) -> str:
    """A minimal calibration profile (identity encoder) with the rig's intrinsics and the given mounts."""
    import yaml

    cams = {}
    for name in world.camera_names:
        s = world.camera_spec(name)
        cams[name] = {
            "model": s.lens,
            "width": s.width,
            "height": s.height,
            "matrix": [[float(x) for x in r] for r in s.K()],
            "distortion": [float(x) for x in s.dist()],
            "rms_px": 0.0,
            "views": 0,
            "coverage": 0.0,
        }
    doc = {
        "format": "dexumi-profile",
        "version": 1,
        "id": "sim-visual",
        "created": "2026-01-01T00:00:00Z",
        "device": {"channels": world.channels},
        "hand": "inspire_like",
        "exoskeleton": world.config.scene.hand,
        "encoder": {
            "wrap": False,
            "input": "counts",
            "channels": [
                {"name": j.name, "zero_rad": 0.0, "sign": 1, "scale_rad_per_count": 1e-4} for j in world.actuated
            ],
        },
        "cameras": cams,
    }
    if mounts:
        doc["camera_mounts"] = mounts_to_dict(mounts)
    return yaml.safe_dump(doc, sort_keys=False)


def true_mounts(world) -> dict[str, CameraMount]:
    return {
        n: CameraMount.from_matrix(world.camera_spec(n).T_wrist_cam(), method="rig-truth") for n in world.camera_names
    }


def write_sim_episode(
    path: str | Path,
    seconds: float = 2.0,
    size: tuple[int, int] = (240, 240),
    fps: float = 15.0,
    cameras: int = 1,
    start_s: float = 2.0,
    mounts: dict[str, CameraMount] | None | str = "truth",
    noise: float = 2.0,
    seed: int = 0,
) -> Path:
    """Write a finished episode at `path` (`episode_NNNN.h5.partial`; returns the final path)."""
    from dexumi.episode import schema as S
    from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
    from dexumi.episode.writer import EpisodeWriter
    from dexumi.retarget import Retargeter
    from dexumi.bundled_maps import MAPS_DIR
    from dexumi.sim.world import World, world_config
    from dexumi.types import CameraFrame, EncoderBatch

    world = World(world_config(size[0], size[1], cameras=cameras, seed=seed))
    if isinstance(mounts, str):
        mounts = true_mounts(world)
    names = tuple(j.name for j in world.actuated)
    rt = Retargeter.from_map(MAPS_DIR / "inspire.yaml")
    path = Path(path)
    meta = EpisodeMeta(
        number=S.episode_number(path) or 1,
        task="pick",
        robot_hand="inspire_like",
        exoskeleton=world.config.scene.hand,
        nominal_fps=fps,
        calibration_profile_id="sim-visual",
        calibration_profile_yaml=sim_profile_yaml(world, mounts),
        retarget_map_yaml=(MAPS_DIR / "inspire.yaml").read_text(),
        main_camera="wrist0",
    )
    w = EpisodeWriter(
        path,
        meta,
        EncoderLayout(len(names), names, RATE_HZ),
        [CameraLayout(c, size[0], size[1], fps=fps) for c in world.camera_names],
        action_names=tuple(rt.robot_joint_names),
    )
    rends = {c: world.renderer(c, noise=noise, seed=seed, quality=90) for c in world.camera_names}
    try:
        n_frames = int(round(seconds * fps))
        idx = np.arange(int(round((seconds + 0.2) * RATE_HZ)) + 1)
        tw = start_s - 0.1 + idx / RATE_HZ
        ang = world.angles_at(tw)
        host = T0 + tw
        w.append_encoder(
            [
                EncoderBatch(
                    idx, (idx * 1e6 / RATE_HZ).astype(np.int64), host, host, (ang * 1e4).astype(np.int32), ang, 0
                )
            ]
        )
        for k in range(n_frames):
            t = start_s + k / fps
            world.set_time(t)
            for c, r in rends.items():
                w.append_frames(
                    c, [CameraFrame(c, k, T0 + t, r.jpeg(k), "jpeg", size[0], size[1])], mapped_times=np.array([T0 + t])
                )
        return w.finalize("success", "simulated visual-bridge episode", "sim", rt)
    finally:
        for r in rends.values():
            r.close()
        w.close_partial()
