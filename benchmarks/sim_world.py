#!/usr/bin/env python3
"""Rendering rate of the simulated 3D rig and the CPU it costs, on the CPU (Mesa llvmpipe through EGL).

`python benchmarks/sim_world.py [--quick]`; the last stdout line is one JSON object.

- `render_fps_640x480`, `render_fps_240x240`: frames per second one renderer produces for the full scene
  (hand, exoskeleton, objects, textured board; world state set per frame, lens applied, RGB out), in one
  process, each camera of the world in turn; `jpeg_fps_640x480` the same including the JPEG encode. Side
  by side with the baseline: MuJoCo's default quality settings (shadows + 4× multisampling) on the same
  scene, `*_vs_default_quality` = ours / default.
- `realtime_cpu_pct`: two `world:` cameras at 640×480 × 30 fps recorded live for a while (each rendered in its
  own process, JPEGs read through the camera interface as the recorder does): CPU of the render processes
  plus the reader, in % of one core; `realtime_dropped`, `realtime_late_frames` say whether it kept up.
`mode` says which mode ran: `live` (rendered while recording), never pre-rendered clips here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi.sim.scene import SceneConfig, default_cameras
from dexumi.sim.world import World, WorldConfig

log = logging.getLogger("benchmarks.sim_world")


def render_fps(width: int, height: int, seconds: float, shadows: bool = False, jpeg: bool = False) -> float:
    world = World(WorldConfig(scene=SceneConfig(cameras=default_cameras(width, height, 2), shadows=shadows)))
    rs = [world.renderer(c) for c in world.camera_names]
    for r in rs:
        r.rgb(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        world.set_time(n / 30.0)
        for r in rs:
            r.jpeg(n) if jpeg else r.rgb(n)
            n += 1
    fps = n / (time.perf_counter() - t0)
    for r in rs:
        r.close()
    return fps


def realtime(seconds: float) -> dict:
    from dexumi.devices.cameras.world import WorldCamera, WorldCameraConfig

    cams = [WorldCamera(WorldCameraConfig(name=f"wrist{i}", width=640, height=480, fps=30.0)) for i in range(2)]
    import threading

    counts = {}

    def run(cam):
        k = 0
        while time.monotonic() < t_end:
            cam.read()
            k += 1
        counts[cam.name] = k

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    leads = [c.spawn() for c in cams]  # both render processes ready, then frame 0 at one common time
    start = time.monotonic() + max(leads) + 0.3
    for c in cams:
        c.begin(start)
        c.open()
    t_begin = time.monotonic()
    t_end = t_begin + seconds
    threads = [threading.Thread(target=run, args=(c,)) for c in cams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t_begin
    truth = [c.truth() for c in cams]
    late = sum(c.late_frames for c in cams)
    for c in cams:
        c.close()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the render processes, reaped by close()
    cpu = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) + kids.ru_utime + kids.ru_stime
    return {"realtime_cpu_pct": round(100.0 * cpu / wall, 1),
            "realtime_frames": int(sum(counts.values())),
            "realtime_dropped": int(sum(int(t["lost"].sum()) for t in truth)),
            "realtime_late_frames": int(late), "realtime_seconds": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (< 1 min)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    secs = 3.0 if args.quick else 10.0
    res: dict = {"mode": "live", "gl": os.environ.get("MUJOCO_GL", ""), "cpus": os.cpu_count(),
                 "load_avg_1min": round(os.getloadavg()[0], 2)}
    res["render_fps_640x480"] = round(render_fps(640, 480, secs), 1)
    res["render_fps_240x240"] = round(render_fps(240, 240, secs), 1)
    res["jpeg_fps_640x480"] = round(render_fps(640, 480, secs, jpeg=True), 1)
    base = render_fps(640, 480, secs / 2, shadows=True)
    res["default_quality_fps_640x480"] = round(base, 1)
    res["render_640x480_vs_default_quality"] = round(res["render_fps_640x480"] / base, 2) if base else None
    res.update(realtime(8.0 if args.quick else 30.0))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
