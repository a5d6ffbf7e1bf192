"""Visual bridge benchmark: `render --mode robot-overlay` speed at 240×240 and 640×480, and its accuracy vs
the simulated rig's truth (wearer-mask IoU, overlay PSNR inside the robot hand's region).

Speed is measured on the real per-frame path of `dexumi render` (decode the recorded JPEG, render the
exoskeleton-as-worn mask and the robot hand through the lens, fill, composite, encode JPEG) over the frames of a
simulated episode, several passes. The machine is shared, so two figures are given: frames per CPU-second of
the process (`overlay_fps_*`: what one core delivers when it is not shared; rendering runs in the process's
own llvmpipe threads, so they count) and frames per wall-clock second as it happened here (`*_wall`, with the
load average beside it). `vs_dexumi_replay` compares with DexUMI's physical robot replay at 10 frames/s;
`telea_*` is the same path with OpenCV's Telea inpainting instead of push-pull, side by side.

    python benchmarks/visual_bridge.py [--quick]      # last line: one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np


def speed(path: Path, passes: int, inpaint: str = "pushpull") -> dict:
    from dexumi.episode.reader import Episode, decode_jpeg
    from dexumi.visual.bridge import VisualBridge, frame_joints

    with Episode.open(path) as ep:
        b = VisualBridge.for_episode(ep, ["wrist0"], inpaint=inpaint)
        raw, exo, q = frame_joints(ep, "wrist0")
        bufs = [ep.jpeg("wrist0", int(j)) for j in raw]
        b.variants("wrist0", decode_jpeg(bufs[0]), exo[0], q[0], ["robot-overlay"])  # warm-up
        n = 0
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(passes):
            for k, buf in enumerate(bufs):
                img = b.variants("wrist0", decode_jpeg(buf), exo[k], q[k], ["robot-overlay"])["robot-overlay"]
                cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
                n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        b.close()
    return {"fps_cpu": n / cpu, "fps_wall": n / wall, "cpu_ms": cpu * 1e3 / n, "frames": n}


def accuracy(times: list[float], size: tuple[int, int]) -> dict:
    from dexumi.sim.world import World, world_config
    from dexumi.visual.bridge import VisualBridge
    from dexumi.visual.mount import CameraCalibration, CameraMount, Intrinsics

    human = World(world_config(*size, cameras=2))
    cfg = world_config(*size, cameras=2)
    cfg.scene.embodiment = "robot"
    robot = World(cfg)
    ious, ious_err, psnrs, hand_ious = [], [], [], []
    rng = np.random.default_rng(0)
    for cam in human.camera_names:
        spec = human.camera_spec(cam)
        intr = Intrinsics.from_spec(spec)
        T = spec.T_wrist_cam()
        b = VisualBridge(
            {cam: CameraCalibration(cam, intr, CameraMount.from_matrix(T))},
            "inspire_exo",
            "inspire_like",
            [j.name for j in human.actuated],
            list(robot.robot.robot_joint_names),
        )
        P = T.copy()  # 2 mm / 1° mount error in a random direction
        d, ax = rng.normal(size=3), rng.normal(size=3)
        P[:3, :3] = cv2.Rodrigues(ax / np.linalg.norm(ax) * np.radians(1.0))[0] @ T[:3, :3]
        P[:3, 3] += d / np.linalg.norm(d) * 0.002
        rh, rr = human.renderer(cam, noise=2.0, seed=1), robot.renderer(cam, noise=2.0, seed=2)
        view = b._views[cam]
        for k, t in enumerate(times):
            human.set_time(t)
            robot.set_time(t)
            raw, seg_h = rh.bgr(k), rh.segmentation()
            truth, seg_r = rr.bgr(k), rr.segmentation()
            wear = np.isin(seg_h, (1, 2, 7))
            rq = robot.robot_joints()
            out = b.frame(cam, raw, human.exo_angles(), [rq[n] for n in b.robot_names], "robot-overlay")
            m = b.last_wearer
            ious.append((m & wear).sum() / max(1, (m | wear).sum()))
            hand = seg_r == 9
            _, _, rm = view.robot.render()
            hand_ious.append((rm & hand).sum() / max(1, (rm | hand).sum()))
            err = out.astype(np.float64)[hand] - truth.astype(np.float64)[hand]
            psnrs.append(10 * np.log10(255.0**2 / max(1e-9, float(np.mean(err**2)))))
            view.exo.set_mount(P)
            view.exo.set_joints(dict(zip(b.exo_names, human.exo_angles())))
            me = view.exo.labels() > 0
            ious_err.append((me & wear).sum() / max(1, (me | wear).sum()))
            view.exo.set_mount(T)
        rh.close()
        rr.close()
        b.close()
    return {
        "mask_iou": float(np.mean(ious)),
        "mask_iou_min": float(np.min(ious)),
        "mask_iou_2mm_1deg": float(np.mean(ious_err)),
        "mask_iou_2mm_1deg_min": float(np.min(ious_err)),
        "overlay_psnr_db": float(np.mean(psnrs)),
        "overlay_psnr_db_min": float(np.min(psnrs)),
        "hand_iou": float(np.mean(hand_ious)),
        "hand_iou_min": float(np.min(hand_ious)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="under a minute")
    a = ap.parse_args()
    from dexumi.sim.world import setup_gl

    setup_gl()
    from dexumi.visual.simepisode import write_sim_episode

    secs, passes = (1.0, 2) if a.quick else (3.0, 4)
    out: dict = {"quick": a.quick}
    with tempfile.TemporaryDirectory() as d:
        for (w, h), key in (((240, 240), "240"), ((640, 480), "640")):
            p = write_sim_episode(_mk(Path(d) / key) / "episode_0001.h5.partial", secs, (w, h), fps=15)
            s = speed(p, passes)
            out[f"overlay_fps_{key}"] = round(s["fps_cpu"], 1)
            out[f"overlay_fps_{key}_wall"] = round(s["fps_wall"], 1)
            out[f"overlay_cpu_ms_per_frame_{key}"] = round(s["cpu_ms"], 2)
            if key == "240":
                t = speed(p, 1, "telea")
                out["telea_fps_240"] = round(t["fps_cpu"], 1)
                out["pushpull_vs_telea_240"] = round(s["fps_cpu"] / t["fps_cpu"], 2)
                out["vs_dexumi_replay"] = round(s["fps_cpu"] / 10.0, 1)
                out["episode_60s_15fps_s"] = round(900 / s["fps_cpu"], 1)
    times = [1.0, 6.0, 11.0] if a.quick else [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0]
    out.update({k: round(v, 4) for k, v in accuracy(times, (240, 240)).items()})
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    out["cores"] = os.cpu_count()
    print(json.dumps(out))


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


if __name__ == "__main__":
    main()
