"""Fault injection for the file layer: damaged and foreign inputs through info, validate, recover, retarget and
the reader API, each within a time and memory bound; outcome a correct result or one clean error line, never
a traceback (exit 70) or a hang; no file other than the requested output changes.

The default suite runs a representative sample; `-m slow` the exhaustive sweep (docs/reliability.md has its
figures, printed by `python -m tests.test_fault_injection`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from dexumi.episode import schema as S
from tests.conftest import REPO

TIME_BOUND_S = 15.0  # per input (generous for a loaded 2-core machine; a hang is minutes)
MEMORY_BOUND_MB = 600.0  # per input, peak RSS growth
MAP = """version: 1
robot: inspire_like
channels: [j0, j1, j2]
joints:
  thumb_yaw: {from: j0}
  index_proximal: {from: j1}
  middle_proximal: {from: j2}
"""

BOMB = (
    "\n".join(
        ["a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    )
    + "\n"
)


# ------------------------------------------------------------------------------------------------ inputs
def _base(folder: Path) -> tuple[Path, Path]:
    """A finished episode and an unfinished (.partial) one, written by the real writer."""
    from tests.test_episode_format import write_episode

    final = write_episode(folder / "episode_0001.h5.partial", seconds=1.0)
    with h5py.File(final, "r+") as f:  # the one attribute write_episode leaves out: the base validates clean
        f.attrs[S.A_HAND] = "test_hand"
    w = write_episode(folder / "episode_0002.h5.partial", seconds=1.0, finalize=False)
    w.close_partial()
    return final, folder / "episode_0002.h5.partial"


def _datasets(path: Path) -> list[str]:
    out: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(out)


def _edit(src: Path, dst: Path, fn) -> Path:
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)
    return dst


def _delete(name):
    def fn(f):
        del f[name]

    return fn


def _retype(name):
    def fn(f):
        ds = f[name]
        shape = ds.shape or (1,)
        kind = "v" if h5py.check_vlen_dtype(ds.dtype) is not None or ds.dtype.kind == "O" else ds.dtype.kind
        del f[name]
        f.create_dataset(name, data=np.zeros(shape, "i8" if kind in "fvOSU" else "f8"))

    return fn


def _reshape(name):
    def fn(f):
        n = f[name].shape[0] if f[name].shape else 1
        del f[name]
        f.create_dataset(name, data=np.zeros((n, 2, 2), "f8"))

    return fn


def _absurd(name, rows):
    def fn(f):
        f[name].resize(rows, axis=0)

    return fn


def _truncate(src: Path, dst: Path, frac: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * frac)])
    return dst


def _flip(src: Path, dst: Path, seed: int, bits: int = 1) -> Path:
    data = bytearray(src.read_bytes())
    rng = random.Random(seed)
    for _ in range(bits):
        k = rng.randrange(len(data))
        data[k] ^= 1 << rng.randrange(8)
    dst.write_bytes(bytes(data))
    return dst


def _foreign(folder: Path) -> list[tuple[str, Path]]:
    out = []
    t = folder / "text.h5"
    t.write_text("just some text\n")
    out.append(("text", t))
    e = folder / "empty.h5"
    e.write_bytes(b"")
    out.append(("empty", e))
    r = folder / "random.h5"
    r.write_bytes(random.Random(1).randbytes(50_000))
    out.append(("random", r))
    h = folder / "foreign.h5"
    with h5py.File(h, "w") as f:
        f.create_dataset("data", data=np.arange(10))
    out.append(("foreign-hdf5", h))
    a = folder / "attr-only.h5"
    with h5py.File(a, "w") as f:
        f.attrs["format"] = "dexumi-episode"
        f.attrs["format_version"] = 1
        f.attrs["state"] = "final"
    out.append(("format-attr-only", a))
    n = folder / "newer.h5"
    out.append(("newer-version", n))
    return out


def build_inputs(work: Path, exhaustive: bool) -> list[tuple[str, str, Path]]:
    """(category, name, file) for every damaged/foreign variant; files named like the source they damage."""
    src = work / "src"
    src.mkdir()
    final, partial = _base(src)
    inputs: list[tuple[str, str, Path]] = []
    k = 0

    def slot(like: Path) -> Path:
        nonlocal k
        k += 1
        d = work / f"in{k:04d}"
        d.mkdir()
        return d / like.name

    fracs = np.linspace(0.02, 0.98, 60 if exhaustive else 6)
    for base in (final, partial):
        for fr in fracs:
            inputs.append(("truncation", f"{base.name}@{fr:.2f}", _truncate(base, slot(base), float(fr))))
        for seed in range(int(os.environ.get("FAULT_FLIPS", 300)) if exhaustive else 8):
            inputs.append(("bit flip", f"{base.name}#{seed}", _flip(base, slot(base), seed, 1 + seed % 4)))
    names = _datasets(final)
    pick = (
        names
        if exhaustive
        else [
            "raw/cameras/a/jpeg",
            "raw/encoder/angles",
            "timestamps",
            "action",
            "observations/images/a",
            "meta/sync_report",
        ]
    )
    for name in pick:
        inputs.append(("missing dataset", f"-{name}", _edit(final, slot(final), _delete(name))))
        inputs.append(("retyped dataset", f"~{name}", _edit(final, slot(final), _retype(name))))
        if exhaustive:
            inputs.append(("reshaped dataset", f"#{name}", _edit(final, slot(final), _reshape(name))))
    inputs.append(("missing dataset", "-raw/cameras/a", _edit(final, slot(final), _delete("raw/cameras/a"))))
    with h5py.File(final, "r") as f:
        resizable = [n for n in names if f[n].maxshape and f[n].maxshape[0] is None]
    for name in (
        resizable
        if exhaustive
        else ["raw/encoder/host_time", "raw/cameras/a/jpeg", "timestamps", "observations/exo_joints"]
    ):
        for rows in (10**8, 10**10, 10**12) if exhaustive else (10**12,):
            inputs.append(("absurd shape", f"{name}={rows:.0e}", _edit(final, slot(final), _absurd(name, rows))))
    for name, path in _foreign(work / "src"):
        if name == "newer-version":

            def newer(f):
                f.attrs["format_version"] = 99

            path = _edit(final, slot(final), newer)
        else:
            dst = slot(path)
            shutil.copyfile(path, dst.with_name(final.name))
            path = dst.with_name(final.name)
        inputs.append(("foreign file", name, path))
    return inputs


# ------------------------------------------------------------------------------------------------- running
def _hash_tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".dexumi-lock"
    }


def _jobs(path: Path, map_path: Path) -> list[dict]:
    out = path.parent / "out.npy"
    return [
        {"argv": ["info", str(path), "--json"]},
        {"argv": ["validate", str(path), "--no-progress", "-j", "1"]},
        {"argv": ["retarget", str(path), "--map", str(map_path), "--out", str(out)]},
        {"api": str(path)},
        {"argv": ["recover", str(path), "--json"]},
    ]  # last: it may legitimately change the input


def run_sweep(work: Path, exhaustive: bool) -> tuple[list[dict], dict[str, Counter]]:
    inputs = build_inputs(work, exhaustive)
    map_path = work / "map.yaml"
    map_path.write_text(MAP)
    jobs, meta = [], []
    for cat, name, path in inputs:
        for j in _jobs(path, map_path):
            jobs.append(j)
            meta.append((cat, name, path))
    before = {str(p): _hash_tree(p.parent) for _, _, p in inputs}
    jf, rf = work / "jobs.json", work / "results.json"
    jf.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fault_worker", str(jf), str(rf)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60 + 30 * len(inputs),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(rf.read_text())
    figures: dict[str, Counter] = {}
    for (cat, name, _path), res in zip(meta, results):
        res["category"], res["input"] = cat, name
        c = figures.setdefault(cat, Counter())
        c["runs"] += 1
        res["verdict"] = _verdict(res)
        c[res["verdict"]] += 1
        if (res["job"].get("argv") or [""])[0] == "validate":
            c["validate runs"] += 1
            c["validate FAIL"] += res["rc"] == 1
    for cat, name, path in inputs:
        figures[cat]["inputs"] += 1
        changed = _changed(before[str(path)], _hash_tree(path.parent), path)
        if changed:
            figures[cat]["data changed"] += 1
            results.append({"category": cat, "input": name, "verdict": "data changed", "changed": changed})
    return results, figures


def _changed(before: dict[str, str], after: dict[str, str], src: Path) -> list[str]:
    """Files changed other than what was asked for: retarget's out.npy (+ its marker); recover may turn the
    input into a finished episode (then valid) or `.failed` (0 samples), never anything else."""
    allowed = {"out.npy", ".out.npy.dexumi-retarget"}
    changed = []
    for name in set(before) | set(after):
        if name in allowed or before.get(name) == after.get(name):
            continue
        if name == src.name and name not in after:  # recover consumed the input: it must have published
            from dexumi.episode import schema as S

            published = [n for n in after if n in (S.final_path(src).name, src.name.split(".")[0] + ".h5.failed")]
            if published and src.name.endswith(".partial"):
                continue
        if name not in before and name.split(".")[0] == src.name.split(".")[0] and src.name.endswith(".partial"):
            continue  # the recovered episode / .failed
        changed.append(name)
    return changed


def _verdict(res: dict) -> str:
    err = res["stderr"]
    if res["rc"] == "hang" or res["seconds"] > TIME_BOUND_S:
        return "hang"
    if res["rc"] == 70 or "Traceback" in err or "internal error" in err:
        return "traceback"
    if res["peak_mb"] > MEMORY_BOUND_MB:
        return "memory"
    lines = [x for x in err.splitlines() if x.strip()]
    if res["rc"] == 2:
        return "clean error" if len(lines) == 1 and ": error: " in lines[0] else "messy error"
    if res["rc"] in (0, 1):
        return "result"
    return f"rc {res['rc']}"


def _assert_clean(results: list[dict], figures: dict[str, Counter]) -> None:
    bad = [r for r in results if r["verdict"] not in ("clean error", "result")]
    assert not bad, json.dumps(bad[:5], indent=1, default=str)[:6000]
    # validate FAILs every structurally damaged file (bit flips may hit bytes nothing can check)
    for r in results:
        if r.get("job", {}).get("argv", [""])[0] == "validate" and r["category"] in (
            "truncation",
            "missing dataset",
            "retyped dataset",
            "reshaped dataset",
            "absurd shape",
            "foreign file",
        ):
            assert r["rc"] == 1 and "FAIL" in r["stdout"], (r["input"], r["stdout"][-500:])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return run_sweep(tmp_path_factory.mktemp("faults"), exhaustive=False)


def test_fault_sample_clean_bounded_and_no_data_changed(sample):
    results, figures = sample
    _assert_clean(results, figures)
    assert sum(c["inputs"] for c in figures.values()) >= 40
    assert {"truncation", "bit flip", "missing dataset", "retyped dataset", "absurd shape", "foreign file"} <= set(
        figures
    )


def test_fault_sample_names_the_problem(sample):
    results, _ = sample
    by = {(r["input"], (r["job"].get("argv") or ["api"])[0]): r for r in results if "job" in r}
    assert "timestamps" in by[("-timestamps", "info")]["stderr"]
    assert "raw/cameras/a/jpeg" in by[("-raw/cameras/a/jpeg", "info")]["stderr"]
    assert "claims 1000000000000 rows" in by[("raw/encoder/host_time=1e+12", "api")]["stderr"]
    assert "newer" in by[("newer-version", "retarget")]["stderr"]
    assert "truncated" in by[("episode_0001.h5@0.40", "info")]["stderr"]


@pytest.mark.slow
def test_fault_sweep_exhaustive(tmp_path):
    results, figures = run_sweep(tmp_path, exhaustive=True)
    print(json.dumps({k: dict(v) for k, v in figures.items()}, indent=1))
    _assert_clean(results, figures)


if __name__ == "__main__":  # figures for docs/reliability.md
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        res, fig = run_sweep(Path(d), exhaustive="--quick" not in sys.argv)
        print(json.dumps({k: dict(v) for k, v in fig.items()}, indent=1))
