#!/usr/bin/env python3
"""Rendering rate of the simulated 3D rig and the CPU it costs, on the CPU (Mesa llvmpipe through EGL).

`python benchmarks/sim_world.py [--quick]`; the last stdout line is one JSON object.

- `render_fps_640x480`, `render_fps_240x240`: frames one core renders per second for the full scene (hand,
  exoskeleton, objects, textured board; world state set per frame, lens, exposure and noise applied, RGB
  out), the world's two cameras in turn (`wrist0` pinhole with distortion, `wrist1` fisheye): 1000 /
  `render_cpu_ms_*`, the CPU time per frame of the rendering process (all its threads), llvmpipe rasterising
  in the calling thread (`LP_NUM_THREADS=0`) and one OpenCV thread, as the world cameras' render processes do.
  That is what the targets speak of (≥ 60 frames/s at 640×480 under one core; ≥ 200 frames/s at 240×240)
  and, unlike wall time, it hardly depends on how many neighbours share the two cores. At 240×240 (offline
  data generation, "on two cores") `render_fps_240x240` is what the two cores give: two worker processes at
  once, one camera each, Σ frames / CPU s (`render_fps_two_cores_*`; `render_fps_240x240_one_core` the
  in-process figure; `*_wall` the wall-clock rates under this load).
  `render_fps_wall_*`: the wall-clock rate of the same process on this machine as loaded now
  (`load_avg_1min`). `jpeg_*` the same including the JPEG encode (what a world camera sends).
- Baselines in the same run, interleaved with ours: a trivial scene (a plane and a box, the same quality
  settings, no lens, no noise) at the same size, `render_*_vs_trivial` = our CPU per frame ÷ its; and
  MuJoCo's default quality (shadows + 4× multisampling, a shadow-casting light) on our scene at 640×480,
  `render_640x480_vs_default_quality` = ours ÷ it (frames per CPU second).
- `realtime_cpu_pct`: two `world:` cameras at 640×480 × 30 fps read live for a while (each rendered in its
  own process, JPEGs read through the camera interface as the recorder does): CPU of the render processes
  plus the reader, in % of one core; `realtime_late_frames` (delivered > one period late) and
  `realtime_dropped` say whether live rendering kept up.
- `mode`: `live` when the live cameras kept up (≤ 1 % late); else `prerendered` — what a recording here
  should use (`world:prerender=S`, `SessionConfig.sim_world_prerender_s`): the clips rendered ahead and
  played through the camera at native pacing (that path is then timed too, outside `--quick`: `prerender_*`,
  the render processes' CPU per clip frame, the wait before playing, and every frame played, none lost).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("LP_NUM_THREADS", "0")  # llvmpipe in the calling thread, as the world cameras render
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from dexumi.sim.scene import SceneConfig, default_cameras
from dexumi.sim.world import World, WorldConfig

log = logging.getLogger("benchmarks.sim_world")

# one OpenCV thread, as each world camera's render process has (dexumi.sim.camproc): OpenCV's thread pool
# would spread the lens remap and the noise over both cores and cost ~30 % more CPU a frame here
cv2.setNumThreads(1)

TRIVIAL = """<mujoco><visual><quality shadowsize="0" offsamples="0"/><global offwidth="1280" offheight="1024"/>
</visual><worldbody><light pos="0 0 3" dir="0 0 -1"/><geom type="plane" size="2 2 .1" rgba=".5 .5 .5 1"/>
<geom type="box" pos="0 0 .1" size=".1 .1 .1" rgba=".8 .2 .1 1"/>
<camera name="c" pos="0 -0.8 0.6" xyaxes="1 0 0 0 0.6 0.8"/></worldbody></mujoco>"""


class Ours:
    """The real scene's two cameras, rendered in turn."""

    def __init__(self, width: int, height: int, shadows: bool = False, jpeg: bool = False) -> None:
        self.world = World(WorldConfig(scene=SceneConfig(cameras=default_cameras(width, height, 2), shadows=shadows)))
        self.rs = [self.world.renderer(c) for c in self.world.camera_names]
        self.jpeg, self.n = jpeg, 0
        for r in self.rs:
            r.rgb(0)

    def frame(self) -> None:
        r = self.rs[self.n % len(self.rs)]
        self.world.set_time(self.n / 30.0)
        r.jpeg(self.n) if self.jpeg else r.rgb(self.n)
        self.n += 1

    def close(self) -> None:
        for r in self.rs:
            r.close()


class Trivial:
    def __init__(self, width: int, height: int) -> None:
        import mujoco

        self.mj = mujoco
        self.model = mujoco.MjModel.from_xml_string(TRIVIAL)
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self.r = mujoco.Renderer(self.model, height, width)
        self.out = np.empty((height, width, 3), np.uint8)
        self.frame()

    def frame(self) -> None:
        self.r.update_scene(self.data, "c")
        self.r.render(out=self.out)

    def close(self) -> None:
        self.r.close()


def timed(source, seconds: float) -> tuple[int, float, float]:
    """(frames, wall s, CPU s of the whole process) rendering for about `seconds`."""
    n, c0, w0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds:
        source.frame()
        n += 1
    return n, time.perf_counter() - w0, time.process_time() - c0


def interleaved(sources: dict, seconds: float, rounds: int) -> dict:
    """Per source: wall fps and CPU ms per frame, the best of `rounds` interleaved rounds (the machine is
    shared: the least disturbed round is the closest to what the code costs)."""
    best: dict = {k: (0.0, float("inf")) for k in sources}
    for _ in range(rounds):
        for k, s in sources.items():
            n, wall, cpu = timed(s, seconds / rounds)
            fps, ms = n / wall, 1e3 * cpu / n
            best[k] = (max(best[k][0], fps), min(best[k][1], ms))
    return best


def render_figures(secs: float, rounds: int) -> dict:
    res: dict = {}
    for w, h in ((640, 480), (240, 240)):
        src = {"ours": Ours(w, h), "jpeg": Ours(w, h, jpeg=True), "trivial": Trivial(w, h)}
        if (w, h) == (640, 480):
            src["default"] = Ours(w, h, shadows=True)
        best = interleaved(src, secs * len(src), rounds)
        for s in src.values():
            s.close()
        key = f"{w}x{h}"
        fps, ms = best["ours"]
        res[f"render_fps_{key}"] = round(1e3 / ms, 1)
        res[f"render_cpu_ms_{key}"] = round(ms, 2)
        res[f"render_fps_wall_{key}"] = round(fps, 1)
        res[f"jpeg_fps_{key}"] = round(1e3 / best["jpeg"][1], 1)
        res[f"jpeg_fps_wall_{key}"] = round(best["jpeg"][0], 1)
        res[f"trivial_fps_{key}"] = round(1e3 / best["trivial"][1], 1)
        res[f"render_{key}_vs_trivial"] = round(ms / best["trivial"][1], 2)
        if "default" in best:
            res["default_quality_fps_640x480"] = round(1e3 / best["default"][1], 1)
            res["render_640x480_vs_default_quality"] = round(best["default"][1] / ms, 2)
    return res


def worker(width: int, height: int, seconds: float, camera: int) -> None:
    """One offline-generation worker: one camera of its own world, full pipeline (RGB out); prints JSON."""
    src = Ours(width, height)
    src.n = camera  # frame() renders camera n % 2: step by two to stay on one camera
    n, c0, w0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds:
        src.frame()
        src.n += 1
        n += 1
    print(json.dumps({"frames": n, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}))


def two_core_rate(width: int, height: int, seconds: float) -> dict:
    """Offline data generation on the two cores: two worker processes at once (one per camera, each its own
    world and renderer, llvmpipe single-threaded); the rate the two cores give = Σ frames / CPU s of each."""
    import subprocess

    env = dict(os.environ, LP_NUM_THREADS="0")
    ps = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", f"{width}x{height}:{seconds}:{i}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in ps]
    key = f"{width}x{height}"
    return {
        f"render_fps_two_cores_{key}": round(sum(o["frames"] / o["cpu_s"] for o in outs), 1),
        f"render_fps_two_cores_wall_{key}": round(sum(o["frames"] / o["wall_s"] for o in outs), 1),
    }


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:  # reaped already
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def realtime(seconds: float) -> dict:
    """Two live world cameras read as the recorder reads them; CPU of the readers + render processes."""
    from dexumi.devices.cameras.world import WorldCamera, WorldCameraConfig

    cams = [WorldCamera(WorldCameraConfig(name=f"wrist{i}", width=640, height=480, fps=30.0)) for i in range(2)]
    leads = [c.spawn() for c in cams]  # both render processes ready, then frame 0 at one common time
    start = time.monotonic() + max(leads) + 0.3
    for c in cams:
        c.begin(start)
        c.open()
    pids = [c._proc.pid for c in cams]
    cpu0 = time.process_time() + sum(_proc_cpu(p) for p in pids)  # steady state only: start-up not counted
    t_begin = time.monotonic()
    counts = _read_all(cams, t_begin + seconds)
    wall = time.monotonic() - t_begin
    cpu = time.process_time() + sum(_proc_cpu(p) for p in pids) - cpu0
    truth = [c.truth() for c in cams]
    late = sum(c.late_frames for c in cams)
    for c in cams:
        c.close()
    frames = int(sum(counts.values()))
    return {
        "realtime_cpu_pct": round(100.0 * cpu / wall, 1),
        "realtime_frames": frames,
        # what 2 cameras x 30 fps cost, from the CPU each delivered frame took (independent of how much
        # of the machine the neighbours left us)
        "realtime_cpu_pct_at_30fps": round(100.0 * cpu / max(frames, 1) * 60.0, 1),
        "realtime_dropped": int(sum(int(t["lost"].sum()) for t in truth)),
        "realtime_late_frames": int(late),
        "realtime_seconds": round(wall, 1),
    }


def prerendered(seconds: float) -> dict:
    """Two world cameras that render a `seconds` clip ahead, then play it at native pacing."""
    from dexumi.devices.cameras.world import WorldCamera, WorldCameraConfig

    cams = [
        WorldCamera(WorldCameraConfig(name=f"wrist{i}", width=640, height=480, fps=30.0, prerender_s=seconds))
        for i in range(2)
    ]
    w0 = time.monotonic()
    leads = [c.spawn() for c in cams]
    pids = [c._proc.pid for c in cams]
    cpu0 = sum(_proc_cpu(p) for p in pids)
    start = time.monotonic() + 3.0 * max(leads) + 1.0  # room for a loaded machine: every frame is played
    for c in cams:
        c.begin(start)
    for c in cams:
        c.open()  # waits for the clip
    render_cpu = sum(_proc_cpu(p) for p in pids) - cpu0
    prepare = time.monotonic() - w0
    counts = _read_all(cams, float("inf"))
    truth = [c.truth() for c in cams]
    late = sum(c.late_frames for c in cams)
    for c in cams:
        c.close()
    frames = int(sum(counts.values()))
    return {
        "prerender_clip_frames": 2 * int(round(seconds * 30)),
        "prerender_frames": frames,
        "prerender_render_cpu_ms_per_frame": round(1e3 * render_cpu / max(2 * seconds * 30, 1), 2),
        "prerender_prepare_s": round(prepare, 1),
        "prerender_dropped": int(sum(int(t["lost"].sum()) for t in truth)),
        "prerender_late_frames": int(late),
    }


def _read_all(cams, t_end: float) -> dict:
    counts = {}

    def run(cam):
        k = 0
        while time.monotonic() < t_end and cam.read() is not None:
            k += 1
        counts[cam.name] = k

    threads = [threading.Thread(target=run, args=(c,)) for c in cams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (< 1 min)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        size, secs_s, cam = args.worker.split(":")
        w, h = (int(x) for x in size.split("x"))
        worker(w, h, float(secs_s), int(cam))
        return
    logging.basicConfig(level=logging.WARNING)
    # the best of many short rounds: this machine's noise comes in bursts
    secs, rounds = (0.6, 8) if args.quick else (6.0, 8)
    res: dict = {
        "render_fps_basis": "frames per CPU second of the rendering process (one core)",
        "gl": os.environ.get("MUJOCO_GL", ""),
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    res.update(render_figures(secs, rounds))
    res.update(two_core_rate(240, 240, 3.0 if args.quick else 15.0))
    res["render_fps_240x240_one_core"] = res["render_fps_240x240"]
    res["render_fps_240x240"] = res["render_fps_two_cores_240x240"]  # the target's terms: on the two cores
    rt_s = 4.0 if args.quick else 30.0
    res.update(realtime(rt_s))
    kept_up = res["realtime_late_frames"] <= 0.01 * res["realtime_frames"] and res["realtime_dropped"] == 0
    res["mode"] = "live" if kept_up else "prerendered"
    if not kept_up and not args.quick:
        res.update(prerendered(10.0))
    res["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    res["quick"] = args.quick
    print(json.dumps(res))


if __name__ == "__main__":
    main()
