"""Calibration library: encoders against the emulator (v1 and wrapping legacy sensors), camera intrinsics
from rendered boards, board printing at true scale, joint-map fits, profile validation."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import yaml

from calibration import encoders as enc
from calibration.board import BoardSpec, pdf_image_size_mm, write_board
from calibration.boardsim import BoardRenderer, Lens, view_poses
from calibration.camera import BoardDetector, calibrate
from calibration.poses import hand_poses
from calibration.profile import ProfileError, load_profile
from calibration.sim import SimRig
from dexumi.errors import DexumiError

# --------------------------------------------------------------------------------------------- encoders


def _capture(poses, protocol: str):
    """The rig playing the calibration script once, and every sample of it.

    The script starts a fixed lead after the emulator is asked to start; on a loaded machine the driver's first
    sample can arrive after that, and the first hold would be half missed. Then the rig is started again with
    a longer lead: the capture is only used when its first sample came before the script began."""
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    from tests.waits import wait_until

    inp = enc.EncoderInput(protocol)
    for lead_s in (1.0, 3.0, 8.0):
        rig = SimRig(poses, protocol, hold_s=0.8, move_s=0.3, sweep_s=0.5, wave_s=0, lead_s=lead_s).start()
        try:
            buf = enc.SampleBuffer(inp)
            with EncoderDriver(EncoderConfig(rig.port, protocol)) as drv:
                first = wait_until(lambda: drv.read(0.05), timeout=30, message="the emulator's first samples")
                if float(first[0].mapped_time[0]) > rig.epoch - 0.05:
                    continue  # the script began before the driver saw it: again, with a longer lead
                buf.add(first)
                end = rig.segment_window("zero_check")[1]
                while time.monotonic() < end + 0.1:
                    buf.add(drv.read(0.05))
            return rig, inp, buf.samples()
        finally:
            rig.stop()
    raise AssertionError("the encoder driver never streamed before the calibration script began")


@pytest.mark.parametrize("protocol,model", [("v1", "xhand_exo"), ("legacy", "inspire_exo")])
def test_encoder_calibration_recovers_known_sensor_errors(protocol, model):
    poses = hand_poses(model)
    rig, inp, samples = _capture(poses, protocol)
    centers = enc.circular_center(samples.x, inp.period) if inp.period else None
    if protocol == "legacy":  # the sensors' 0/2π point lies inside the range of motion of every joint
        raw_turns = samples.window(*rig.segment_window("fist")).x
        assert np.any(raw_turns > 0.5) and np.any(samples.window(*rig.segment_window("flat")).x > 0.8)
    holds = [
        enc.capture_hold(samples.window(*rig.segment_window(p)), poses.pose(p), p, inp, center=centers)
        for p in poses.hold_poses
    ]
    fit = enc.fit_encoders(holds, poses.joints, inp, centers)
    zero, sign, scale = rig.errors.expected(24, protocol)
    got = fit.calibration()
    dz = (np.asarray(got.zero_rad) - zero + np.pi) % (2 * np.pi) - np.pi
    assert np.max(np.abs(np.degrees(dz))) < 0.5
    assert list(got.sign) == list(sign)
    assert np.max(np.abs(np.asarray(got.scale_rad_per_count) / scale - 1)) < 0.01
    assert -1 in list(sign) and np.ptp(rig.errors.offset_deg) > 10  # the errors were not trivial
    check = enc.zero_check(got, samples.window(*rig.segment_window("zero_check")), poses.joints, inp)
    assert check.ok, check.message()


def test_hold_that_moves_and_dead_channel_are_rejected():
    inp = enc.EncoderInput("v1")
    t = np.linspace(0, 1, 500)
    moving = enc.EncoderSamples(t, np.outer(np.sin(6 * t), np.ones(2)) * 1e6)
    with pytest.raises(DexumiError, match="moved"):
        enc.capture_hold(moving, np.zeros(2), "fist", inp)
    flat = enc.HoldCapture("flat", np.zeros(2), np.array([0.0, 0.0]), np.zeros(2), 100)
    fist = enc.HoldCapture("fist", np.ones(2), np.array([1e6, 3.0]), np.zeros(2), 100)
    with pytest.raises(DexumiError, match="channel 'b'.*hardly changed"):
        enc.fit_encoders([flat, fist], ["a", "b"], inp)
    with pytest.raises(DexumiError, match="13 joints"):
        enc.fit_encoders([flat, fist], [f"j{i}" for i in range(13)], inp)


def test_zero_check_detects_drift():
    from dexumi.types import EncoderCalibration

    inp = enc.EncoderInput("v1")
    cal = EncoderCalibration((0.0, 0.0), (1.0, 1.0), (1e-6, 1e-6))
    t = np.linspace(0, 1, 400)
    drifted = enc.EncoderSamples(t, np.tile([0.0, math.radians(5) / 1e-6], (400, 1)))
    check = enc.zero_check(cal, drifted, ["a", "b"], inp)
    assert not check.ok and check.worst[0] == "b" and "DRIFTED" in check.message()


# ----------------------------------------------------------------------------------------------- camera


@pytest.fixture(scope="module")
def board():
    return BoardSpec()


def _detections(spec, lens, n, seed):
    r = BoardRenderer(spec, lens, seed=seed)
    det = BoardDetector(spec)
    return [det.detect(r.render(rv, tv)) for rv, tv in view_poses(spec, lens, n, seed=seed, tilt_deg=45)]


def _rel_errors(cal, lens):
    k = cal.matrix
    return np.abs([k[0, 0] / lens.fx - 1, k[1, 1] / lens.fy - 1, k[0, 2] / lens.cx - 1, k[1, 2] / lens.cy - 1])


def test_pinhole_intrinsics_recovered_from_rendered_board(board):
    lens = Lens()
    dets = _detections(board, lens, 24, seed=4)
    cal = calibrate(dets, (lens.width, lens.height), "pinhole")
    assert np.max(_rel_errors(cal, lens)) < 0.005, cal.summary()
    assert cal.rms_px < 0.5 and cal.views == 24 and cal.coverage > 0.8
    assert cal.occupancy.shape == (6, 8) and cal.occupancy.sum() == sum(len(d) for d in dets)
    with pytest.raises(DexumiError, match="only 5 usable board views"):
        calibrate(dets[:5], (lens.width, lens.height), "pinhole")
    corner_only = [d for d in dets if np.all(d.corners[:, 0] < 330) and np.all(d.corners[:, 1] < 250)]
    with pytest.raises(DexumiError, match="covered only"):
        calibrate(corner_only * 10, (lens.width, lens.height), "pinhole", min_views=3)


def test_fisheye_intrinsics_recovered_from_rendered_board(board):
    lens = Lens(fx=300.0, fy=301.0, cx=321.0, cy=238.0, distortion=(0.05, -0.02, 0.01, -0.003), model="fisheye")
    cal = calibrate(_detections(board, lens, 16, seed=1), (lens.width, lens.height), "fisheye")
    assert np.max(_rel_errors(cal, lens)) < 0.005, cal.summary()
    assert cal.rms_px < 0.5 and len(cal.distortion) == 4


def test_printable_board_is_at_true_scale(tmp_path, board):
    import cv2

    out = write_board(board, tmp_path / "b.png", tmp_path / "b.pdf", dpi=300)
    img = cv2.imread(str(out.png), cv2.IMREAD_GRAYSCALE)
    w_mm, h_mm = pdf_image_size_mm(out.pdf)
    mm_per_px = w_mm / img.shape[1]
    assert h_mm / img.shape[0] == pytest.approx(mm_per_px, rel=1e-6)
    assert out.px_per_square * mm_per_px == pytest.approx(board.square_mm, abs=1e-3)  # a square is 25 mm on paper
    assert sorted(out.page_mm) == [210.0, 297.0]  # A4 (landscape for this board)
    data = out.pdf.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    start = int(data[data.rindex(b"startxref") + 10 :].split()[0])
    assert data[start : start + 4] == b"xref"
    assert b"pHYs" in out.png.read_bytes()[:64]
    det = BoardDetector(board).detect(img)  # the printed image is a detectable board
    assert det is not None and len(det) == board.corners


def test_one_board_spec_for_printing_tracking_and_the_rig():
    """The printed board, the tracker's target and the rig's texture are the same `dexumi.board.BoardSpec`;
    `legacy` switches to OpenCV's pre-4.6 layout, which differs only for an even number of rows."""
    from apps.wizard.options import parse_board
    from dexumi.sim.scene import SceneConfig
    from dexumi.tracking.target import Target

    assert parse_board("7x5:25:18.75") == BoardSpec() == Target.from_scene().charuco == SceneConfig().board.spec
    assert BoardSpec().square_mm == 25.0 and BoardSpec().size_mm == (175.0, 125.0)
    assert np.array_equal(BoardSpec(legacy=True).image(30), BoardSpec().image(30))  # 5 rows: the same layout
    new, old = BoardSpec(squares_y=6), BoardSpec(squares_y=6, legacy=True)
    assert not np.array_equal(new.image(30), old.image(30))
    for spec in (new, old):
        det = BoardDetector(spec).detect(spec.image(60, 30))
        assert det is not None and len(det) == spec.corners == 30
    with pytest.raises(DexumiError, match=r"marker side \(30 mm\) must be smaller than the square \(25 mm\)"):
        parse_board("7x5:25:30")


# -------------------------------------------------------------------------------------------- joint map


def test_joint_map_from_set_points_recovers_known_curves(tmp_path):
    from calibration.jointmap import base_map, fit_joint_map, read_pairs
    from dexumi.retarget.mapfile import load_map

    base = base_map("inspire_exo")
    rng = np.random.default_rng(0)
    exo = rng.uniform(0, 1.3, (60, len(base.channels)))
    truth = {r.robot: (0.9 + 0.02 * k, 0.01 * k) for k, r in enumerate(base.joints)}
    cols = {c: exo[:, i] for i, c in enumerate(base.channels)}
    for r in base.joints:
        a, b = truth[r.robot]
        cols[r.robot] = a * cols[r.exo] + b + rng.normal(0, 1e-3, len(exo))
    path = tmp_path / "pairs.csv"
    path.write_text(
        ",".join(cols)
        + "\n"
        + "\n".join(",".join(f"{v:.6f}" for v in row) for row in np.column_stack(list(cols.values())))
    )
    fit = fit_joint_map(base, read_pairs(path, base), "linear")
    for f in fit.fits:
        a, b = truth[f.robot]
        assert f.curve.scale == pytest.approx(a, abs=2e-3) and f.curve.offset == pytest.approx(b, abs=2e-3)
        assert f.rms_rad < 2e-3
    written = load_map(fit.write(tmp_path / "fitted.map.yaml"))
    assert written.mode == "joint" and len(written.joints) == len(base.joints)
    assert "Fit residuals" in (tmp_path / "fitted.map.yaml").read_text()


def test_joint_map_from_model_geometry_reports_residuals():
    from calibration.jointmap import base_map, fit_joint_map, geometry_pairs

    base = base_map("inspire_exo")
    fit = fit_joint_map(base, geometry_pairs(base, samples=40), "linear")
    res = fit.residuals()
    assert set(res) == {r.robot for r in base.joints}
    assert all(0 <= v["rms_deg"] < 3 for v in res.values())  # the two hands are close: small residuals


# ---------------------------------------------------------------------------------------------- profile

GOOD = """format: dexumi-profile
version: 1
id: p1
device: {id: X, channels: 2}
encoder:
  wrap: false
  channels:
  - {name: a, zero_rad: 0.1, sign: 1, scale_rad_per_count: 1.0e-6}
  - {name: b, zero_rad: 0.2, sign: -1, scale_rad_per_count: 2.0e-6}
cameras:
  S1: {model: pinhole, width: 640, height: 480, matrix: [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
       distortion: [0, 0, 0, 0, 0]}
latencies_s: {wrist0: 0.04}
"""


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda d: d.pop("id"), "missing key 'id'"),
        (lambda d: d["encoder"]["channels"][1].pop("zero_rad"), "missing key 'encoder.channels[1].zero_rad'"),
        (
            lambda d: d["encoder"]["channels"][0].update(scale_rad_per_count="big"),
            "'encoder.channels[0].scale_rad_per_count'",
        ),
        (lambda d: d["encoder"].update(wrap="yes"), "'encoder.wrap'"),
        (lambda d: d["device"].update(channels=5), "'device.channels' says 5"),
        (lambda d: d["cameras"]["S1"].update(width=-3), "'cameras.S1.width'"),
        (lambda d: d["cameras"]["S1"].update(distortion=[0, 0, 0]), "'cameras.S1.distortion'"),
        (lambda d: d["latencies_s"].update(wrist0="fast"), "'latencies_s.wrist0'"),
        (lambda d: d.update(mapping=3), "'mapping'"),
        (lambda d: d.update(encoders={}), "unknown key 'encoders'"),
        (lambda d: d.update(encoder=[1, 2]), "'encoder' must be a mapping"),
    ],
)
def test_broken_profiles_give_one_line_errors_naming_the_key(tmp_path, edit, needle):
    doc = yaml.safe_load(GOOD)
    load_profile(_write(tmp_path, doc))  # the unedited profile is fine
    edit(doc)
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, doc))
    msg = str(info.value)
    assert needle in msg and "\n" not in msg


@pytest.mark.parametrize(
    "old,new,line,body",
    [
        ("zero_rad: 0.2", "zero_rad: x", 9, "'encoder.channels[1].zero_rad' must be a finite number, not 'x'"),
        ("zero_rad: 0.2, ", "", 9, "missing key 'encoder.channels[1].zero_rad'"),
        ("width: 640", "width: -3", 11, "'cameras.S1.width' must be an integer >= 1, not -3"),
        ("latencies_s: {wrist0: 0.04}", "latencies_s: {wrist0: 0.04}\nencoders: {}", 14, "unknown key 'encoders'"),
    ],
)
def test_profile_errors_give_the_line_of_the_key(tmp_path, old, new, line, body):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"profile {path}:{line}: {body}")


def _write(tmp_path, doc) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_profile_round_trip_keeps_everything(tmp_path):
    from calibration.profile import save_profile

    prof = load_profile(_write(tmp_path, yaml.safe_load(GOOD)))
    prof.report = {"encoders": [{"residual_deg": np.float64(0.01)}]}
    out = save_profile(prof, tmp_path / "copy.yaml")
    text = out.read_text()
    assert "!!python" not in text
    again = load_profile(out)
    assert again.encoder_calibration() == prof.encoder_calibration()
    assert again.cameras == prof.cameras and again.latencies_s == {"wrist0": 0.04}
    with pytest.raises(ProfileError, match="exists"):
        save_profile(prof, out)
