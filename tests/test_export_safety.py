"""dexumi export under a hostile or careless user: it never deletes what it was not asked to produce, a full disk
is one line (exit 2, nothing half-published), killed runs are cleaned up, absurd sizes are bounded, a bad file is
skipped and reported while the others are exported."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from test_validate_util import DEXUMI, REPO, copy, modify, recorded, run

OUTPUT_MARKER, STAGING_MARKER = ".dexumi-export.json", ".dexumi-staging.json"  # what the staging module writes


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


@pytest.fixture()
def day(folder, tmp_path):
    d = tmp_path / "day"
    for p in sorted(folder.glob("episode_*.h5")):
        copy(p, d / p.name)
    return d


def digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()
    }


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2, (p.returncode, p.stderr[-600:])
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dexumi export: error:"), p.stderr[-600:]
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
def test_out_overlapping_an_input_is_refused_even_with_force(day, where):
    before = digest(day)
    out = {"same": day, "parent": day.parent, "inside": day / "act"}[where]
    p = run("export", day, "--to", "act", "--out", out, "--force", "--image-size", "32x32")
    assert "overlaps the input" in one_line_error(p)
    assert digest(day) == before, "recordings changed"
    assert not list(day.parent.glob(".*partial*")) and not (day / "act").exists()


def test_force_replaces_only_an_earlier_export(day, tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    p = run("export", day, "--to", "act", "--out", user, "--force", "--image-size", "32x32")
    assert "not written by `dexumi export`" in one_line_error(p)
    assert (user / "notes.txt").read_text() == "keep me"
    out = tmp_path / "ds"
    assert run("export", day, "--to", "act", "--out", out, "--image-size", "32x32").returncode == 0
    marker = json.loads((out / OUTPUT_MARKER).read_text())
    assert marker["command"] == "export" and marker["format"] == "act"
    p = run("export", day, "--to", "zarr", "--out", out, "--force", "--image-size", "32x32")
    assert p.returncode == 0, p.stderr
    assert (out / "meta" / "episode_ends").exists() and not list(out.glob("episode_*.hdf5"))
    assert not list(tmp_path.glob(".ds.*")), "no staging leftovers"


def _spawn_export(day: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*DEXUMI, "export", str(day), "--to", "act", "--out", str(out), "--no-progress"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_killed_export_staging_is_cleaned_by_the_next_run(day, tmp_path):
    out = tmp_path / "ds"
    proc = _spawn_export(day, out)
    deadline = time.time() + 60
    staging: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        staging = [d for d in tmp_path.glob(".ds.partial-*") if list(d.glob("episode_*.hdf5"))]
        if staging:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert staging, "the export finished before it could be killed"
    assert staging[0].exists() and (staging[0] / STAGING_MARKER).exists()
    foreign = tmp_path / ".ds.partial-999999"  # someone else's folder with our naming: no marker, kept
    foreign.mkdir()
    p = run("export", day, "--to", "act", "--out", out, "--image-size", "32x32")
    assert p.returncode == 0, p.stderr
    assert not staging[0].exists(), "stale staging of a killed run is removed"
    assert foreign.exists(), "a folder without our marker is never removed"


def test_killed_replacement_puts_the_previous_output_back(day, tmp_path):
    out = tmp_path / "ds"
    assert run("export", day, "--to", "act", "--out", out, "--image-size", "32x32").returncode == 0
    before = digest(out)
    # a run killed between moving the old output aside and publishing the new one (pid 999999 is not running)
    old = tmp_path / ".ds.old-999999"
    os.rename(out, old)
    (old / ".dexumi-moved.json").write_text(
        json.dumps({"command": "export", "pid": 999999, "host": os.uname().nodename})
    )
    p = run("export", day, "--to", "act", "--out", out, "--image-size", "32x32")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    # restored first (one warning line), so it is an existing output again
    assert "restored" in p.stderr and p.stderr.strip().splitlines()[-1].endswith("use --force to replace it")
    assert not old.exists()
    after = digest(out)
    after.pop(".dexumi-moved.json", None)
    before.pop(".dexumi-moved.json", None)
    assert after == before


@pytest.fixture()
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "disk"
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(d)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


SLOW = pytest.mark.slow  # the other variants of the same mechanism: CI runs them with -m slow


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "act", "--act-compress"],
        ["--to", "lerobot"],
        pytest.param(["--to", "zarr"], marks=SLOW),
        pytest.param(["--to", "robomimic"], marks=SLOW),
        ["--to", "act"],
    ],
    ids=lambda a: "-".join(a[1:]),
)
def test_full_disk_is_one_line_and_publishes_nothing(day, tiny_disk, args):
    p = run("export", day, *args, "--out", tiny_disk / "ds", "--no-progress")
    line = one_line_error(p)  # not SIGSEGV (-11), not "Exception ignored ... Traceback"
    assert "no space left" in line or "free; nothing written" in line
    assert os.listdir(tiny_disk) == [], "nothing half-published, no staging left"


def _absurd(f: h5py.File, rows: int) -> None:
    for name in (
        "timestamps",
        "action",
        "observations/qpos",
        "observations/exo_joints",
        "observations/valid",
        "observations/images/wrist0",
        "observations/images/wrist1",
    ):
        ds = f[name]
        ds.resize(rows, axis=0)


@pytest.mark.parametrize(
    "rows", [pytest.param(10**8, marks=pytest.mark.slow), 10**10, pytest.param(10**12, marks=pytest.mark.slow)]
)
def test_absurd_sizes_are_refused_in_bounded_memory(day, tmp_path, rows):
    bad = modify(day / "episode_0002.h5", lambda f: _absurd(f, rows))
    limit = 1500 << 20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit + (1 << 30), limit + (1 << 30)))

    t = time.perf_counter()
    p = subprocess.run(
        [*DEXUMI, "export", str(day), "--to", "lerobot", "--out", str(tmp_path / "ds"), "--image-size", "32x32"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
    )
    assert time.perf_counter() - t < 60
    assert p.returncode == 1, p.stderr[-600:]
    assert "Traceback" not in p.stderr and "MemoryError" not in p.stderr
    skipped = [ln for ln in p.stderr.splitlines() if ln.startswith("dexumi export: skipped:")]
    assert len(skipped) == 1 and str(bad) in skipped[0] and "damaged" in skipped[0]
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["total_episodes"] == 1


def _garbage_frame(f: h5py.File) -> None:
    ds = f["raw/cameras/wrist0/jpeg"]
    idx = f["observations/images/wrist0"][:]
    k = int(idx[len(idx) // 2])
    ds[k] = np.frombuffer(b"\x00not a jpeg at all" * 20, np.uint8)


@pytest.mark.parametrize("fmt", ["act", pytest.param("robomimic", marks=pytest.mark.slow), "lerobot", "zarr"])
def test_a_file_that_fails_midway_is_skipped_others_exported(day, tmp_path, fmt):
    bad = modify(day / "episode_0001.h5", _garbage_frame)
    p = run("export", day, "--to", fmt, "--out", tmp_path / "ds", "--image-size", "32x32")
    assert p.returncode == 1, p.stderr[-600:]
    assert "Traceback" not in p.stderr
    skipped = [ln for ln in p.stderr.splitlines() if ln.startswith("dexumi export: skipped:")]
    assert len(skipped) == 1 and str(bad) in skipped[0] and "does not decode" in skipped[0]
    out = tmp_path / "ds"
    if fmt == "act":
        assert sorted(x.name for x in out.glob("episode_*.hdf5")) == ["episode_0.hdf5"]
        with h5py.File(out / "episode_0.hdf5") as f:
            assert f.attrs["source"] == "episode_0002.h5"
    elif fmt == "robomimic":
        with h5py.File(out / "dataset.hdf5") as f:
            assert list(f["data"]) == ["demo_0"] and f["data/demo_0"].attrs["source"] == "episode_0002.h5"
    elif fmt == "lerobot":
        info = json.loads((out / "meta/info.json").read_text())
        assert info["total_episodes"] == 1
        assert len(list(out.glob("videos/*/chunk-000/*.mp4"))) == 2  # one camera pair, of the good episode
    else:
        import zarr

        root = zarr.open(str(out), mode="r")
        ends = root["meta/episode_ends"][:]
        assert len(ends) == 1 and all(root["data"][k].shape[0] == ends[-1] for k in root["data"])
