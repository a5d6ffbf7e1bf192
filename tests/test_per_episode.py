"""The one per-episode batch mechanism: `dexumi.batch.run_episode_tasks` (one task per episode file, input order,
the resume manifest) and the CLI side every per-episode command shares (apps/cli/per_episode.py: argument
types, the batch options, the engine, the one-episode-here / folder-as-tasks split)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli.per_episode import batch_engine, distance, episode_results, folder_episodes, size, span
from dexumi.batch import LocalEngine, run_episode_tasks
from dexumi.errors import DexumiError
from tests.scale_data import CountingEngine

REPO = Path(__file__).resolve().parents[1]
DEXUMI = [sys.executable, "-m", "apps.cli.main"]


def _files(tmp_path: Path, sizes: list[int]) -> list[Path]:
    out = []
    for i, n in enumerate(sizes):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(bytes(range(256)) * (n // 256) + b"x" * (n % 256))
        out.append(p)
    return out


def test_run_episode_tasks_outcomes_in_input_order_with_resume(tmp_path):
    files = _files(tmp_path, [700, 10, 3000, 256])
    order = [files[2], files[0], files[3], files[1]]
    outs = run_episode_tasks(order, os.path.getsize, engine=LocalEngine(2), command="size")
    assert [o.value for o in outs] == [3000, 700, 256, 10] and all(o.ok for o in outs)
    assert [o.key for o in outs] == [str(p.resolve()) for p in order]
    # extra args follow the path; a task's exception is its outcome's error line
    outs = run_episode_tasks([files[1], tmp_path / "gone.bin"], os.path.join, ("sub",), workers=1)
    assert outs[0].value == os.path.join(str(files[1]), "sub") and outs[1].ok  # join never fails
    outs = run_episode_tasks([files[1], tmp_path / "gone.bin"], os.path.getsize, workers=1)
    assert outs[0].value == 10 and not outs[1].ok and outs[1].error.startswith("FileNotFoundError")
    # the manifest: a rerun with the same command and params runs only what changed since
    man = tmp_path / "m.jsonl"
    eng = CountingEngine()
    first = run_episode_tasks(files, os.path.getsize, engine=eng, manifest=man, command="size", params={"a": 1})
    assert eng.ran == 4 and [o.value for o in first] == [700, 10, 3000, 256]
    with open(files[1], "ab") as fh:
        fh.write(b"more")
    eng = CountingEngine()
    again = run_episode_tasks(files, os.path.getsize, engine=eng, manifest=man, command="size", params={"a": 1})
    assert eng.ran == 1 and [o.value for o in again] == [700, 14, 3000, 256]
    assert [o.cached for o in again] == [True, False, True, True]
    eng = CountingEngine()
    run_episode_tasks(files, os.path.getsize, engine=eng, manifest=man, command="size", params={"a": 2})
    assert eng.ran == 4  # other parameters: started afresh


def test_argument_types():
    assert size("64x48") == (64, 48) and size("4096X32") == (4096, 32)
    assert span("5:12") == (5.0, 12.0) and distance("0:40:0.25") == (0, 40, 0.25)
    for fn, bad in (
        (size, "64"),
        (size, "31x64"),
        (size, "axb"),
        (span, "5:5"),
        (span, "5"),
        (distance, "3:3:1"),
        (distance, "0:4:-1"),
        (distance, "0:4"),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)


def test_batch_engine_and_the_one_episode_split(tmp_path):
    files = _files(tmp_path, [300, 20])
    ns = argparse.Namespace
    with batch_engine(ns(engine=None, address=None)) as e:
        assert e is None  # the command's own default
    with batch_engine(ns(engine="local", address=None), 3) as e:
        assert e is not None and e.name == "local" and e.workers == 3
    with pytest.raises(DexumiError, match="--address is for --engine ray"):
        with batch_engine(ns(engine=None, address="x:1")):
            pass
    # one episode, no batch option: runs here, and its exception is raised (the command's one-line error)
    one = ns(engine=None, address=None, manifest=None)
    assert [(r.path, r.ok, r.value) for r in episode_results(files[:1], os.path.getsize, (), one, "size", {})] == [
        (files[0], True, 300)
    ]
    with pytest.raises(FileNotFoundError):
        episode_results([tmp_path / "gone.bin"], os.path.getsize, (), one, "size", {})
    # a folder (or any batch option) runs as tasks: errors come back per episode
    rs = episode_results([files[1], tmp_path / "gone.bin", files[0]], os.path.getsize, (), one, "size", {})
    assert [(r.ok, r.value) for r in rs] == [(True, 20), (False, None), (True, 300)]
    assert rs[1].error.startswith("FileNotFoundError")
    man = tmp_path / "m.jsonl"
    rs = episode_results(files[:1], os.path.getsize, (), ns(engine=None, address=None, manifest=str(man)), "size", {})
    assert rs[0].value == 300 and man.read_text().count("\n") == 2  # header + the one episode


def test_folder_episodes(tmp_path):
    for name in ("episode_0002.h5", "episode_0001.h5", "episode_0003.h5.partial", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in folder_episodes(tmp_path)] == ["episode_0001.h5", "episode_0002.h5"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DexumiError, match="no finished episodes"):
        folder_episodes(empty)


def test_every_per_episode_command_has_the_same_batch_options(tmp_path):
    from apps.cli.main import build_parser

    parser = build_parser()
    common = ["--engine", "local", "--address", "h:1"]
    for cmd, rest in (
        ("validate", ["x"]),
        ("rank", ["x"]),
        ("pose", ["x", "--from", "board"]),
        ("render", ["x"]),
        ("export", ["x", "--to", "act", "--out", "o"]),
    ):
        extra = [] if cmd == "export" else ["--manifest", "m.jsonl"]
        a = parser.parse_args([cmd, *rest, *common, *extra])
        assert (a.engine, a.address, getattr(a, "manifest", None)) == (
            "local",
            "h:1",
            None if cmd == "export" else "m.jsonl",
        ), cmd
    # --address without --engine ray: one line, exit 2, for a single episode and for export alike
    ep = tmp_path / "episode_0001.h5"
    ep.write_bytes(b"not an episode")
    for args in (
        ["pose", str(ep), "--from", "board", "--address", "h:1"],
        ["export", str(ep), "--to", "act", "--out", str(tmp_path / "o"), "--address", "h:1"],
    ):
        p = subprocess.run(DEXUMI + args, capture_output=True, text=True, cwd=REPO, timeout=120)
        assert p.returncode == 2 and "--address is for --engine ray" in p.stderr, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
