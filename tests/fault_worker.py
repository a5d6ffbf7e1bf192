"""Runs fault-injection jobs in one process and reports, per job, exit status, stderr, time and peak memory.

`python -m tests.fault_worker JOBS.json OUT.json` — JOBS is a list of {"argv": [...]} (a `dexumi` command
line, run in-process through apps.cli.main.main) or {"api": PATH} (the reader API: open, read the aligned
arrays and the raw streams, decode one frame). The address space is capped (RLIMIT_AS) so an unbounded
allocation fails instead of taking the machine; each job gets an alarm so a hang is reported, not waited
for. Peak RSS per job comes from /proc/self/status VmHWM, reset before each job via /proc/self/clear_refs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time
import traceback

AS_LIMIT = 3 << 30
JOB_SECONDS = 20


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def _hwm_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _api(path: str) -> int:
    from dexumi.episode.reader import Episode

    with Episode.open(path) as ep:
        ep.encoder()
        for cam in ep.cameras:
            ep.camera_times(cam)
            if ep.frame_count(cam):
                ep.raw_image(cam, 0, reduce=8)
        if ep.finalized:
            ep.timestamps, ep.action, ep.qpos, ep.exo_joints, ep.valid  # noqa: B018 - reading each property is the test
            if len(ep):
                ep.frame(0, reduce=8)
    return 0


def run_job(job: dict) -> dict:
    from apps.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    _reset_hwm()
    base = _hwm_kb()
    t0 = time.perf_counter()
    signal.alarm(JOB_SECONDS)
    rc: int | str
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if "api" in job:
                try:
                    rc = _api(job["api"])
                except Exception as exc:  # noqa: BLE001 - classified below
                    from dexumi.errors import DexumiError

                    if isinstance(exc, DexumiError) and "\n" not in str(exc):
                        print(f"dexumi api: error: {exc}", file=sys.stderr)
                        rc = 2
                    else:
                        traceback.print_exc()
                        rc = 70
            else:
                rc = main(job["argv"])
    except Hang:
        rc = "hang"
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - a traceback is a finding
        err.write(traceback.format_exc())
        rc = 70
    finally:
        signal.alarm(0)
    return {
        "job": job,
        "rc": rc,
        "seconds": time.perf_counter() - t0,
        "stdout": out.getvalue()[-2000:],
        "stderr": err.getvalue()[-4000:],
        "peak_mb": max(0, _hwm_kb() - base) / 1024,
    }


def main(argv: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import logging

    jobs = json.loads(open(argv[0]).read())
    results = []
    for job in jobs:
        results.append(run_job(job))
        if os.environ.get("FAULT_TRACE"):
            r = results[-1]
            print(f"{r['seconds']:.2f}s rc={r['rc']} {job}", file=sys.__stderr__, flush=True)
        logging.getLogger().handlers.clear()  # main() configures logging per run
    with open(argv[1], "w") as fh:
        json.dump(results, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
