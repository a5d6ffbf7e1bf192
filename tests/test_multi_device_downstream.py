"""Several devices downstream (issue 17): `dexumi record --sim --sim-devices …`, the file's groups, validation
(saturation, stuck-at, baseline drift, cross-device sync), exports of touch with their options, recovery, the
recorder's one health row per device, and the one-line errors of `--device`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from dexumi.validate.config import ValidateConfig
from dexumi.validate.episode import validate_file

from tests.conftest import DEXUMI


def _run(*args: object, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEXUMI_SIM_CAMERA="flat", QT_QPA_PLATFORM="offscreen")
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi") / "rec"
    p = _run(
        "record",
        "--headless",
        "--sim",
        "--out",
        out,
        "--episodes",
        1,
        "--duration",
        5,
        "--json",
        "--sim-devices",
        "exo_right,exo_left,tactile_right:fsr",
        "--sim-tactile-rate",
        500,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    status = json.loads(p.stdout.strip().splitlines()[-1])["status"]
    return out / "episode_0001.h5", status


def _devices_check(path) -> dict:
    rep = validate_file(path, ValidateConfig(pose_latency=False))
    return next(c for c in rep.to_dict()["checks"] if c["check"] == "devices")


@pytest.mark.slow
def test_record_sim_devices_makes_a_group_per_device_and_a_row_per_device(recorded):
    path, status = recorded
    rows = {s["name"]: s for s in status["streams"]}
    assert {"encoder", "exo_left", "tactile_right"} <= set(rows) and rows["tactile_right"]["kind"] == "tactile"
    with h5py.File(path) as f:
        assert f["raw/encoder"].attrs["role"] == "exo_right"
        assert f["raw/exo_left"].attrs["kind"] == "exo" and f["raw/tactile_right"].attrs["protocol"] == "fsr"
        T = f["timestamps"].shape[0]
        for name in (
            "observations/left/qpos",
            "observations/left/valid",
            "actions/left",
            "observations/right/tactile",
            "observations/right/qpos",
            "actions/right",
        ):
            assert f[name].shape[0] == T, name
        assert np.array_equal(f["observations/right/qpos"][:], f["observations/qpos"][:])  # the primary, linked
        left = f["observations/left/qpos"][:]
        assert np.array_equal(f["actions/left"][:-1], left[1:])  # next-step command
        tactile = f["raw/tactile_right/values"][:]
        assert tactile[:, 12:].min() >= 200 and tactile[:, 12:].max() > 200  # baseline, and a touch
        rep = json.loads(f["meta/sync_report"][0])
        assert set(rep["devices"]) == {"exo_left", "tactile_right"}
    info = _run("info", path, "--json")
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert set(summary["devices"]) == {"exo_left", "tactile_right"} and summary["encoder"]["role"] == "exo_right"
    assert summary["samples"]["tactile_right"] == summary["devices"]["tactile_right"]["samples"] > 1000


@pytest.mark.slow
def test_validate_passes_a_clean_multi_device_episode(recorded):
    c = _devices_check(recorded[0])
    assert c["level"] == "pass", c["message"]
    assert set(c["details"]["streams"]) == {"exo_right", "exo_left", "tactile_right"}


def _damaged(recorded, tmp_path, change) -> str:
    p = tmp_path / "episode_0007.h5"
    shutil.copy(recorded[0], p)
    with h5py.File(p, "r+") as f:
        change(f)
    return str(p)


@pytest.mark.slow
def test_validate_sees_saturation_stuck_channels_and_baseline_drift(recorded, tmp_path):
    def saturate(f):
        raw = f["raw/tactile_right/raw"]
        x = raw[:]
        x[: len(x) // 4, 13] = 0xFFFF
        raw[...] = x

    c = _devices_check(_damaged(recorded, tmp_path, saturate))
    assert c["level"] == "error" and "saturated" in c["message"] and "tactile_right" in c["message"]

    def stick(f):
        raw = f["raw/exo_left/raw"]
        x = raw[:]
        x[:, 2] = x[0, 2]
        raw[...] = x

    (tmp_path / "b").mkdir()
    c = _devices_check(_damaged(recorded, tmp_path / "b", stick))
    assert c["level"] == "warn" and "exo_left: channel(s) [2] stuck" in c["message"]

    def stick_touch(f):  # the thumb FSR frozen at one reading while the index one moves
        raw = f["raw/tactile_right/raw"]
        x = raw[:]
        assert len(np.unique(x[:, 13])) > 1
        x[:, 12] = 200
        raw[...] = x

    (tmp_path / "b2").mkdir()
    c = _devices_check(_damaged(recorded, tmp_path / "b2", stick_touch))
    assert c["level"] == "warn" and "tactile_right: channel(s) [12] stuck" in c["message"], c["message"]

    def drift(f):
        v = f["raw/tactile_right/values"]
        x = v[:]
        x[:, 12] += np.linspace(0, 300, len(x))
        v[...] = x

    (tmp_path / "c").mkdir()
    c = _devices_check(_damaged(recorded, tmp_path / "c", drift))
    assert c["level"] == "warn" and "baseline moved" in c["message"]

    def unsynced(f):
        rep = json.loads(f["meta/sync_report"][0])
        rep["devices"]["exo_left"]["clock"]["0"]["residual_ms"] = 3.0
        f["meta/sync_report"][0] = json.dumps(rep)

    (tmp_path / "d").mkdir()
    c = _devices_check(_damaged(recorded, tmp_path / "d", unsynced))
    assert c["level"] == "warn" and "cross-device sync" in c["message"]


@pytest.mark.slow
def test_exports_carry_touch_with_baseline_and_totals(recorded, tmp_path):
    import pyarrow.parquet as pq

    path = recorded[0]
    with h5py.File(path) as f:
        touch = f["observations/right/tactile"][:]
        ts = f["timestamps"][:]
    out = tmp_path / "lr"
    p = _run("export", path, "--to", "lerobot", "--out", out, "--no-progress")
    assert p.returncode == 0, p.stderr
    info = json.loads((out / "meta/info.json").read_text())
    feat = info["features"]["observation.tactile.tactile_right"]
    assert feat["shape"] == [14] and feat["names"][12:] == ["tactile_right.fsr_low", "tactile_right.fsr_high"]
    table = pq.read_table(next((out / "data").rglob("*.parquet")))
    x = np.array(table["observation.tactile.tactile_right"].to_pylist())
    grid = ts[0] + np.arange(len(x)) / info["fps"]
    near = np.abs(ts[None, :] - grid[:, None]).argmin(axis=1)
    assert np.allclose(x, touch[near])  # the aligned readings, at the export grid's nearest frame
    out2 = tmp_path / "lr2"
    p = _run("export", path, "--to", "lerobot", "--out", out2, "--no-progress", "--tactile-baseline", "--tactile-total")
    assert p.returncode == 0, p.stderr
    info2 = json.loads((out2 / "meta/info.json").read_text())
    assert info2["features"]["observation.tactile.tactile_right"]["names"] == [
        "tactile_right.thumb",
        "tactile_right.index",
    ]
    y = np.array(
        pq.read_table(next((out2 / "data").rglob("*.parquet")))["observation.tactile.tactile_right"].to_pylist()
    )
    assert np.allclose(y, touch[near][:, 12:14] - touch[0, 12:14])  # zeroed on the first reading, per finger
    for fmt, key in (("robomimic", "data/demo_0/obs/tactile_right"), ("act", "observations/tactile/tactile_right")):
        o = tmp_path / fmt
        p = _run("export", path, "--to", fmt, "--out", o, "--no-progress", "--tactile-total")
        assert p.returncode == 0, p.stderr
        h5 = next(o.rglob("*.hdf5"))
        with h5py.File(h5) as g:
            assert g[key].shape[1] == 2 and np.allclose(g[key][: len(y)], touch[near][:, 12:14])


@pytest.mark.slow
def test_recovery_keeps_every_device(recorded, tmp_path):
    from dexumi.episode.recover import recover_path

    src = tmp_path / "episode_0003.h5.partial"
    shutil.copy(recorded[0], src)
    with h5py.File(src, "r+") as f:
        f.attrs["state"] = "recording"  # as if the recorder had died before finalising
    res = recover_path(src)
    assert res[0].action == "recovered", res
    with h5py.File(recorded[0]) as a, h5py.File(res[0].path) as b:
        for k in ("raw", "values", "time", "segment"):
            assert np.array_equal(a[f"raw/exo_left/{k}"][:], b[f"raw/exo_left/{k}"][:]), k
        assert np.array_equal(a["raw/tactile_right/raw"][:], b["raw/tactile_right/raw"][:])
        assert b["raw/encoder"].attrs["role"] == "exo_right"
        assert np.allclose(a["observations/left/qpos"][:], b["observations/left/qpos"][:])
        assert np.array_equal(a["observations/right/tactile"][:], b["observations/right/tactile"][:])


def test_recorder_health_has_a_row_per_device_and_sees_a_lost_one():
    from apps.recorder.health import BAD, OK, HealthTracker

    h = HealthTracker()
    base = {
        "connected": True,
        "rate_hz": 500.0,
        "nominal_rate_hz": 0.0,
        "samples": 10,
        "in_episode": 0,
        "dropped": 0,
        "gaps": 0,
        "reconnects": 0,
        "last_data_age_s": 0.01,
        "drift_ppm": 3.0,
        "residual_ms": 0.1,
    }
    rows = [
        h.stream({**base, "name": n, "kind": k}, {"crc_errors": 0})
        for n, k in (("encoder", "encoder"), ("exo_left", "encoder"), ("tactile_right", "tactile"))
    ]
    assert [r.level for r in rows] == [OK, OK, OK]
    assert rows[0].cells["crc"] == "0" and rows[1].cells["crc"] == "–" and rows[2].cells["drift"] == "+3 ppm"
    lost = h.stream({**base, "name": "exo_left", "kind": "encoder", "connected": False}, {})
    assert lost.level == BAD and lost.reason == "device lost"


@pytest.mark.parametrize(
    "device,why",
    [
        ("exo_right", "expected ROLE=PORT"),
        ("hand_right=/dev/null", "use exo_SIDE or tactile_SIDE"),
        ("tactile_right=/dev/null,protocol=v1", "protocol must be fsr or xhand-tactile"),
        ("exo_left=/dev/null,colour=red", "unknown option 'colour=red'"),
        ("tactile_right=/dev/null,map=x.yaml", "takes protocol= and rate= only"),
    ],
)
def test_bad_device_specs_are_refused_with_the_reason(device, why):
    from dexumi.errors import DexumiError
    from dexumi.session.device_set import parse_device

    with pytest.raises(DexumiError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_device(device)


def test_a_bad_device_spec_is_one_line_and_exit_2_before_any_device_starts(tmp_path):
    p = _run(
        "record",
        "--headless",
        "--out",
        tmp_path / "o",
        "--device",
        "exo_right=/dev/null",
        "--device",
        "exo_right=/dev/zero",
        timeout=60,
    )
    assert p.returncode == 2 and "device role exo_right given twice" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_the_recorder_hands_its_devices_to_the_session_process(tmp_path):
    from apps.recorder.options import RecorderOptions, session_config
    from dexumi.session.config import SessionConfig

    opts = RecorderOptions(
        out=tmp_path,
        sim=True,
        sim_devices=["exo_right,exo_left,tactile_right:fsr"],
        devices=["exo_left=/dev/ttyACM1"],
        sim_tactile_rate=500.0,
    )
    cfg = SessionConfig.from_wire(json.loads(json.dumps(session_config(opts))))
    assert cfg.sim_devices == ["exo_right,exo_left,tactile_right:fsr"] and cfg.devices == ["exo_left=/dev/ttyACM1"]
    assert cfg.sim_tactile_rate_hz == 500.0


def test_device_calibrations_go_through_the_wire(tmp_path):
    from dexumi.session.config import SessionConfig
    from dexumi.types import EncoderCalibration

    cal = EncoderCalibration((0.1, 0.2), (1, -1), (0.001, 0.002), False, "left-v1")
    cfg = SessionConfig(out_dir=tmp_path, devices=["exo_left=/dev/ttyACM1"], device_calibrations={"exo_left": cal})
    back = SessionConfig.from_wire(json.loads(json.dumps(cfg.to_wire())))
    assert back.device_calibrations == {"exo_left": cal}


def test_a_device_file_gives_the_same_devices_as_the_options(tmp_path):
    from dexumi.errors import DexumiError
    from dexumi.session.device_set import load_device_file, parse_device

    p = tmp_path / "devices.yaml"
    p.write_text(
        "devices:\n  - {role: exo_right, port: /dev/ttyACM0, map: maps/xhand.yaml}\n"
        "  - {role: exo_left, port: /dev/ttyACM1, protocol: v1, rate: 2000}\n"
        "  - {role: tactile_right, port: /dev/ttyUSB0, protocol: fsr}\n"
    )
    texts = load_device_file(p)
    assert texts == [
        f"exo_right=/dev/ttyACM0,map={tmp_path / 'maps/xhand.yaml'}",
        "exo_left=/dev/ttyACM1,protocol=v1,rate=2000",
        "tactile_right=/dev/ttyUSB0,protocol=fsr",
    ]
    specs = [parse_device(t) for t in texts]
    assert specs[1].rate_hz == 2000 and specs[2].protocol == "fsr" and specs[0].map_path == tmp_path / "maps/xhand.yaml"
    p.write_text("devices:\n  - {role: exo_right, port: /dev/ttyACM0, colour: red}\n")
    with pytest.raises(DexumiError, match="unknown key"):
        load_device_file(p)
    p.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(DexumiError, match="--device-file"):
        load_device_file(p)
