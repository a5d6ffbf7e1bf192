"""The mechanisms that have one implementation each (issue 13, item 5): their contracts, checked directly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dexumi.checked_doc import load_document, read_text
from dexumi.devices.cameras.base import exposure_times, frame_stamp, host_stamp
from dexumi.errors import DexumiError
from dexumi.safe_output import TargetExists, rename_no_clobber, write_atomic
from dexumi.session.config import SessionConfig
from dexumi.types import CameraFrame, EncoderCalibration


def test_session_config_wire_round_trip(tmp_path):
    cal = EncoderCalibration((0.1, -0.2), (1.0, -1.0), (1e-6, 2e-6), True, "P-1")
    cfg = SessionConfig(
        out_dir=tmp_path / "out",
        cameras=["sim:fps=30"],
        sim=True,
        sim_camera_size=(320, 240),
        sim_world_size=(160, 120),
        sim_truth=tmp_path / "t.bin",
        map_path=tmp_path / "m.yaml",
        calibration=cal,
        latencies_s={"encoder": 0.002, "wrist0": 0.04},
        required_streams=["encoder"],
    )
    wire = json.loads(json.dumps(cfg.to_wire()))  # through real JSON, as the pipe carries it
    assert SessionConfig.from_wire(wire) == cfg
    summary = cfg.to_json()  # what an episode keeps: the calibration by id, the profile text as a flag
    assert (
        summary["calibration"] == "P-1"
        and summary["profile_yaml"] is False
        and summary["out_dir"] == str(tmp_path / "out")
    )
    with pytest.raises(DexumiError, match="unknown session config key"):
        SessionConfig.from_wire({**wire, "bogus": 1})
    with pytest.raises(DexumiError, match="needs out_dir"):
        SessionConfig.from_wire({"sim": True})


def test_write_atomic_publishes_whole_files_and_never_leaves_a_temporary(tmp_path):
    p = tmp_path / "a.yaml"
    write_atomic(p, "one\n")
    write_atomic(p, b"two\n")
    assert p.read_text() == "two\n"
    with pytest.raises(TargetExists):
        write_atomic(p, "three\n", clobber=False)
    assert p.read_text() == "two\n"

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(p, half_then_fail)
    assert p.read_text() == "two\n" and sorted(os.listdir(tmp_path)) == ["a.yaml"]
    video = tmp_path / "clip.mp4"
    seen = []
    write_atomic(video, lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"x")))
    assert seen == [".mp4"] and video.read_bytes() == b"x"  # writers that pick formats by suffix get it


def test_rename_no_clobber_refuses_and_finishes_a_killed_move(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("A")
    b.write_text("B")
    with pytest.raises(TargetExists):
        rename_no_clobber(a, b)
    assert a.read_text() == "A" and b.read_text() == "B"
    b.unlink()
    os.link(a, b)  # a move killed between link and unlink
    rename_no_clobber(a, b)
    assert not a.exists() and b.read_text() == "A"


def test_camera_timestamp_rule():
    own = CameraFrame("c", 0, grab_time=10.0, data=b"", encoding="jpeg", width=1, height=1, device_time=9.5)
    none = CameraFrame("c", 1, grab_time=10.1, data=b"", encoding="jpeg", width=1, height=1)
    assert frame_stamp(own) == 9.5 and frame_stamp(none) == 10.1
    assert host_stamp(own, False) == 10.0 and host_stamp(own, True) == 9.5 and host_stamp(none, True) == 10.1
    assert exposure_times([own, none], True, 0.04).tolist() == pytest.approx([9.46, 10.06])


def test_checked_document_names_the_line_of_the_key(tmp_path):
    text = "version: 1\nfilter:\n  cutoff: -3\n  kind: x\n"
    doc = load_document(text, "m.yaml")
    assert doc.line(("filter", "cutoff")) == 3 and doc.line(("filter", "nothing")) == 2
    with pytest.raises(DexumiError, match=r"^m\.yaml:3: filter\.cutoff: must be > 0, got -3$"):
        doc.number(("filter", "cutoff"), doc.data["filter"]["cutoff"], positive=True)
    with pytest.raises(DexumiError, match=r"^m\.yaml:4: filter\.kind: unknown key \(allowed: cutoff\)$"):
        doc.table(("filter",), doc.data["filter"], ("cutoff",))
    toml = load_document('a = "x"\n', "c.toml", ".toml")
    assert toml.data == {"a": "x"} and toml.line(("a",)) is None
    with pytest.raises(DexumiError, match="not valid JSON"):
        load_document("{", "c.json", ".json")
    with pytest.raises(DexumiError, match="cannot read map file"):
        read_text(tmp_path / "missing.yaml", "map file")


def test_checks_config_errors_carry_the_line(tmp_path):
    from dexumi.validate.config import load_config

    p = tmp_path / "checks.yaml"
    p.write_text("min_frames: 5\n\nseverity:\n  gaps: off\n  bogus: warn\n")
    with pytest.raises(DexumiError, match=r"checks\.yaml:5: severity\.bogus: .*unknown check"):
        load_config(p)
    p.write_text("min_frames: 5\ngap_factor: 2.0\n")
    cfg = load_config(p)
    assert cfg.min_frames == 5 and cfg.gap_factor == 2.0


def test_one_check_list():
    from dexumi.validate import checks_content, checks_devices, checks_pose, checks_schema, checks_sync, checks_time
    from dexumi.validate.config import CHECKS, EPISODE_CHECKS, FOLDER_CHECKS
    from dexumi.validate.episode import CHECKS as RUN

    assert [n for n, _ in RUN] == list(EPISODE_CHECKS) and set(EPISODE_CHECKS) | set(FOLDER_CHECKS) == set(CHECKS)
    mods = (checks_content, checks_devices, checks_pose, checks_schema, checks_sync, checks_time)
    for name, fn in RUN:
        assert [m for m in mods if getattr(m, f"check_{name}", None) is fn], name


def test_wizard_steps_contribute_their_own_results():
    from types import SimpleNamespace

    from calibration.wizard_steps import CameraStep, LatencyStep, RunOptions, Step, ZeroCheckStep

    o = RunOptions()
    prof = SimpleNamespace(cameras={}, device={}, latencies_s={}, latency_uncertainty_s={})
    report: dict = {}
    Step().contribute(prof, report, None)  # a step without a result adds nothing
    z = ZeroCheckStep(1.0)
    z.contribute(prof, report, None)
    assert report == {} and z.pose == "flat" and z.key == z.segment == "zero_check"
    z.result = SimpleNamespace(drift_rad=[0.01, -0.02])
    z.contribute(prof, report, None)
    assert report["zero_check_deg"] == [0.573, -1.1459]
    lat = LatencyStep(o)
    lat.result = SimpleNamespace(stream="wrist0", latency_s=0.041, uncertainty_s=0.002)
    lat.contribute(prof, report, None)
    assert prof.latencies_s == {"wrist0": 0.041} and prof.latency_uncertainty_s == {"wrist0": 0.002}
    cam = CameraStep(o)
    cam.result = SimpleNamespace(serial="SN1", intrinsics=lambda: "K")
    cam.contribute(prof, report, None)
    assert prof.cameras == {"SN1": "K"} and prof.device == {"cameras": {o.camera_name: "SN1"}}
