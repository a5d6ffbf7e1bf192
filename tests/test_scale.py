"""The batch layer (dexumi.batch): local engine against the one-process export (byte-identical), a worker killed
mid-task, resume after an interrupted job, fsspec outputs, bad options; and (slow) a real two-node Ray cluster
of separate `ray start` processes: validate and export of 50 episodes with a worker killed mid-job, outputs
against the local backend's, and the resume path after the driver is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_data import CountingEngine, Interrupted, die_once, tree_bytes, write_episodes

from dexumi.batch import LocalEngine, Manifest, Task, run_tasks

REPO = Path(__file__).resolve().parents[1]
DEXUMI = [sys.executable, "-m", "apps.cli.main"]


@pytest.fixture(scope="module")
def few(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("few") / "day"
    write_episodes(d, 4, seconds=1.0)
    return d


def _export(paths, out, engine=None, fmt="lerobot", work=None):
    from dexumi.export import ExportOptions, export_paths

    return export_paths(paths, ExportOptions(fmt, out, progress=False), engine, work)


def test_local_engine_export_is_byte_identical_to_one_process_export(few, tmp_path):
    plain = _export([few], tmp_path / "plain")
    batch = _export([few], tmp_path / "batch", LocalEngine(2))
    assert [e["frames"] for e in batch.episodes] == [e["frames"] for e in plain.episodes] == [30] * 4
    a, b = tree_bytes(tmp_path / "plain"), tree_bytes(tmp_path / "batch")
    assert sorted(a) == sorted(b) and len([k for k in a if k.endswith(".mp4")]) == 4
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    assert not (tmp_path / ".batch.batch").exists()  # the work folder goes once the dataset is published
    act_plain = _export([few], tmp_path / "act1", fmt="act")
    act_batch = _export([few], tmp_path / "act2", LocalEngine(2), fmt="act")
    assert act_plain.episodes == act_batch.episodes
    assert tree_bytes(tmp_path / "act1") == tree_bytes(tmp_path / "act2")


def test_worker_killed_mid_task_is_run_again(tmp_path):
    flag = tmp_path / "died"
    tasks = [Task(f"t{i}", die_once, (str(flag) if i == 3 else str(tmp_path / "never" / "x"), i)) for i in range(6)]
    (tmp_path / "never").mkdir()
    (tmp_path / "never" / "x").write_text("")  # exists: these never die
    outs = run_tasks(tasks, LocalEngine(2))
    assert [o.value for o in outs] == [0, 10, 20, 30, 40, 50] and all(o.ok for o in outs)
    assert flag.exists() and outs[3].attempts == 2
    victim = int(flag.read_text())
    assert victim != os.getpid()  # it was a worker process that died, and the job completed


def test_interrupted_jobs_resume_from_the_manifest(few, tmp_path):
    from dexumi.validate import validate_paths

    # validate: 2 of 4 done, then the job dies; the rerun reads only the other 2 and reports all 4 alike
    man = tmp_path / "validate.manifest"
    with pytest.raises(Interrupted):
        validate_paths([few], engine=CountingEngine(2), manifest=man, progress=False)
    counting = CountingEngine()
    again = validate_paths([few], engine=counting, manifest=man, progress=False)
    assert counting.ran == 2
    fresh = validate_paths([few], workers=1, progress=False)
    assert [r.to_dict() for r in again.episodes] == [r.to_dict() for r in fresh.episodes]
    # an edited episode is not taken from the manifest: its content hash changed
    victim = sorted(few.glob("*.h5"))[0]
    saved = victim.read_bytes()
    try:
        with open(victim, "ab") as fh:
            fh.write(b"\0" * 16)
        third = CountingEngine()
        validate_paths([few], engine=third, manifest=man, progress=False)
        assert third.ran == 1
    finally:
        victim.write_bytes(saved)
    # export: 3 of 4 shards, interrupted; the rerun converts one and publishes the same bytes
    with pytest.raises(Interrupted):
        _export([few], tmp_path / "ds", CountingEngine(3))
    assert not (tmp_path / "ds").exists() and (tmp_path / ".ds.batch" / "manifest.jsonl").exists()
    counting = CountingEngine()
    _export([few], tmp_path / "ds", counting)
    assert counting.ran == 1
    _export([few], tmp_path / "ref")
    assert tree_bytes(tmp_path / "ds") == tree_bytes(tmp_path / "ref")
    # a manifest file that is something else is never overwritten
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    from dexumi.errors import DexumiError

    with pytest.raises(DexumiError, match="not a dexumi batch manifest"):
        Manifest(other, "validate", {})
    assert other.read_text() == "my notes\n"


def test_export_to_fsspec_urls(few, tmp_path):
    import fsspec

    _export([few], tmp_path / "ref")
    ref = tree_bytes(tmp_path / "ref")
    s = _export([few], "memory://scale-test/ds", LocalEngine(2))
    fs = fsspec.filesystem("memory")
    copy = tmp_path / "from_memory"
    for p in fs.find("/scale-test/ds"):
        dst = copy / p.split("/scale-test/ds/", 1)[1]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(fs.cat_file(p))
    assert (copy / ".dexumi-export.json").exists() and tree_bytes(copy) == ref and s.out == "memory://scale-test/ds"
    url = (tmp_path / "viaurl").as_uri()
    _export([few], url, None)
    assert tree_bytes(tmp_path / "viaurl") == ref
    from dexumi.errors import DexumiError

    with pytest.raises(DexumiError, match="already exists"):
        _export([few], url)


def test_bad_batch_options_are_one_line_and_exit_2(few, tmp_path):
    from dexumi.batch import make_engine
    from dexumi.errors import DexumiError

    with pytest.raises(DexumiError, match="--address is for --engine ray"):
        make_engine("local", "x:1")
    p = subprocess.run(
        DEXUMI
        + ["export", str(few), "--out", str(tmp_path / "o"), "--to", "zarr", "--engine", "local", "--address", "x:1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert p.returncode == 2 and "--address is for --engine ray" in p.stderr, p.stderr  # zarr runs on engines now
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr and not (tmp_path / "o").exists()
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    p = subprocess.run(
        DEXUMI + ["validate", str(few), "--manifest", str(notes)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert p.returncode == 2 and "not a dexumi batch manifest" in p.stderr and notes.read_text() == "keep me\n"


# ---------------------------------------------------------------- a real cluster: separate `ray start` processes


@pytest.fixture(scope="module")
def fifty(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fifty") / "day"
    write_episodes(d, 50, seconds=1.0)
    return d


@pytest.fixture
def cluster():
    from dexumi.batch.localcluster import LocalRayCluster

    c = LocalRayCluster(nodes=2, cpus_per_node=1, object_store_mb=80)
    c.start()
    try:
        yield c
    finally:
        c.stop()
        assert not c.own_pids()  # no raylet, GCS or worker of this cluster is left behind


def _cli(args, **kw):
    from dexumi.batch.localcluster import ray_env

    return subprocess.run(
        DEXUMI + [str(a) for a in args], capture_output=True, text=True, cwd=REPO, env=ray_env(), timeout=900, **kw
    )


def _popen(args):
    from dexumi.batch.localcluster import ray_env

    return subprocess.Popen(
        DEXUMI + [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=ray_env(),
        start_new_session=True,
    )


def _lines(p: Path) -> int:
    try:
        return max(0, len(p.read_text().splitlines()) - 1)  # minus the header
    except OSError:
        return 0


def _wait_for(cond, proc, timeout=600.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_ray_cluster_validate_export_worker_killed_and_resume(fifty, cluster, tmp_path):
    eps = sorted(fifty.glob("*.h5"))
    assert len(eps) == 50
    # the local backend's outputs
    loc = _cli(["validate", fifty, "--json", tmp_path / "local.json", "--no-progress"])
    assert loc.returncode == 0, loc.stderr[-500:]
    loc = _cli(
        ["export", fifty, "--to", "lerobot", "--out", tmp_path / "local_ds", "--engine", "local", "--no-progress"]
    )
    assert loc.returncode == 0, loc.stderr[-500:]
    ref = tree_bytes(tmp_path / "local_ds")

    # validate on the cluster: the second node is killed (SIGKILL, its raylet and workers) while it runs a task
    man = tmp_path / "validate.manifest"
    p = _popen(
        [
            "validate",
            fifty,
            "--engine",
            "ray",
            "--address",
            cluster.address,
            "--json",
            tmp_path / "ray.json",
            "--manifest",
            man,
            "--no-progress",
        ]
    )
    assert _wait_for(lambda: _lines(man) >= 3 and any(n == 1 for _, n in cluster.busy_workers()), p), (
        "the job ended before a task ran on the second node"
    )
    cluster.kill_node(1)
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-800:]
    assert _lines(man) == 50
    local_doc, ray_doc = (
        json.loads((tmp_path / "local.json").read_text()),
        json.loads((tmp_path / "ray.json").read_text()),
    )
    assert ray_doc["episodes"] == local_doc["episodes"] and ray_doc["summary"] == local_doc["summary"]
    assert cluster.procs[1].poll() is not None  # the node is gone (Ray marks it dead after its heartbeat timeout)

    # export on what is left: a worker process is killed mid-task; Ray runs the task again; same bytes
    work = tmp_path / ".ray_ds.batch" / "manifest.jsonl"
    p = _popen(
        [
            "export",
            fifty,
            "--to",
            "lerobot",
            "--out",
            tmp_path / "ray_ds",
            "--engine",
            "ray",
            "--address",
            cluster.address,
            "--no-progress",
        ]
    )
    victims: list = []  # the workers found busy, kept from the same look (asked again, they may be done)

    def busy() -> bool:
        victims[:] = cluster.busy_workers() if _lines(work) >= 3 else []
        return bool(victims)

    assert _wait_for(busy, p), "the job ended before a worker was seen busy"
    for pid, _ in victims:
        os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-800:]
    assert victims and tree_bytes(tmp_path / "ray_ds") == ref
    assert not (tmp_path / ".ray_ds.batch").exists() and not list(tmp_path.glob(".ray_ds.partial-*"))

    # resume: the driver is killed mid-job; the rerun converts only what has no shard, and publishes the same bytes
    work = tmp_path / ".ray_ds2.batch" / "manifest.jsonl"
    args = [
        "export",
        fifty,
        "--to",
        "lerobot",
        "--out",
        tmp_path / "ray_ds2",
        "--engine",
        "ray",
        "--address",
        cluster.address,
        "--no-progress",
        "-v",
    ]
    p = _popen(args)
    assert _wait_for(lambda: _lines(work) >= 10, p)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(60)
    done = _lines(work)
    assert 10 <= done < 50 and not (tmp_path / "ray_ds2").exists()
    again = _cli(args)
    assert again.returncode == 0, again.stderr[-800:]
    assert f"{done} of 50 task(s) already done" in again.stderr
    assert tree_bytes(tmp_path / "ray_ds2") == ref
