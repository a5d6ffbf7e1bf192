"""Batch throughput of the local backend (process pool) and the Ray backend on this machine, and Ray's overhead
per task.

    python benchmarks/scale.py [--quick]

Episodes are written through the episode writer API (tests/scale_data.py: one JPEG camera, a 500 Hz encoder;
full: 24 episodes of 3 s at 320x240, --quick: 8 of 1.5 s at 160x120). One "episode" of work = `validate` of it
plus its `export --to lerobot` shard (JPEG decode, resize, H.264 encode). Each backend does the same job:

- local: LocalEngine(2), today's process pool;
- ray 1w / 2w: RayEngine on a Ray cluster with one / two tasks in flight. Full run: a cluster of two `ray start`
  nodes of one CPU each (separate processes, loopback); --quick: a private single-node cluster of two CPUs
  (`ray.init(num_cpus=2)`). Cluster start-up is reported apart (`ray_cluster_start_s`): a cluster serves many
  jobs. Each Ray driver first runs one warm-up task per worker (workers start and import dexumi once per job).

Backends run interleaved, `rounds` times; the best of each is kept (the machine is shared: the best run is the one
least disturbed). `ray_task_overhead_ms`: a no-op task through RayEngine.run one at a time (submit, schedule,
run, return), mean over 100. `ray_vs_local_ms_per_task`: (ray 2w wall - local wall) / tasks on the real job.
Last stdout line: one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def noop(x: int) -> int:
    return x


def job(eps: list[Path], engine, out: Path) -> float:
    """validate + export (lerobot) of `eps` on `engine`; wall seconds."""
    from dexumi.export import ExportOptions, export_paths
    from dexumi.validate import validate_paths

    t = time.perf_counter()
    res = validate_paths(eps, engine=engine, progress=False)
    assert not res.failed(), "benchmark episodes must validate"
    s = export_paths(eps, ExportOptions("lerobot", out, force=True, progress=False), engine)
    assert len(s.episodes) == len(eps)
    return time.perf_counter() - t


def overhead_ms(engine, n: int = 100) -> float:
    from dexumi.batch import Task

    t = time.perf_counter()
    for i in range(n):
        list(engine.run([Task(f"n{i}", noop, (i,))]))
    return (time.perf_counter() - t) / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from dexumi.batch import LocalEngine
    from dexumi.batch.engine import RayEngine
    from dexumi.batch.localcluster import LocalRayCluster, ray_env
    import os

    os.environ.update({k: v for k, v in ray_env().items() if k.startswith("RAY_")})
    import ray
    from scale_data import write_episodes

    n, secs, size, rounds = (8, 1.5, (160, 120), 2) if a.quick else (24, 3.0, (320, 240), 3)
    tmp = Path(tempfile.mkdtemp(prefix="dexumi-scale-"))
    cluster = None
    try:
        eps = write_episodes(tmp / "day", n, seconds=secs, size=size)
        local = LocalEngine(2)
        job(eps[:2], local, tmp / "warm")  # page cache and imports, as for the others
        best = {"local": [], "1w": [], "2w": []}
        t = time.perf_counter()
        if a.quick:
            ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False, configure_logging=False)
            address = None
        else:
            cluster = LocalRayCluster(nodes=2, cpus_per_node=1, object_store_mb=100).start()
            address = cluster.address
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        start_s = time.perf_counter() - t
        engines = {"1w": RayEngine(address, workers=1), "2w": RayEngine(address, workers=2)}
        job(eps[:2], engines["2w"], tmp / "warm")  # one task per worker: workers start, import dexumi
        for _ in range(rounds):
            best["local"].append(job(eps, local, tmp / "out_local"))
            for k in ("2w", "1w"):
                best[k].append(job(eps, engines[k], tmp / f"out_{k}"))
        over = overhead_ms(engines["2w"], 30 if a.quick else 100)
        ray.shutdown()
        wall = {k: min(v) for k, v in best.items()}
        per_min = {k: round(n / w * 60, 2) for k, w in wall.items()}
        out = {
            "episodes": n,
            "episode_s": secs,
            "image_size": f"{size[0]}x{size[1]}",
            "rounds": rounds,
            "cluster": "private ray.init(num_cpus=2)" if a.quick else "2 x `ray start` nodes, 1 CPU each",
            "local_eps_per_min": per_min["local"],
            "ray_eps_per_min_1w": per_min["1w"],
            "ray_eps_per_min_2w": per_min["2w"],
            "ray_2w_vs_local": round(per_min["2w"] / per_min["local"], 3),
            "ray_task_overhead_ms": round(over, 2),
            "ray_vs_local_ms_per_task": round((wall["2w"] - wall["local"]) / (2 * n) * 1e3, 1),
            "local_s_per_episode": round(wall["local"] / n, 3),
            "ray_cluster_start_s": round(start_s, 1),
            "walls_s": {k: [round(x, 2) for x in v] for k, v in best.items()},
        }
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
