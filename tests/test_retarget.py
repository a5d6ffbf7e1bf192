"""Retargeting: map files, joint mode (curves, limits), fingertip mode (round trip, LEAP), filter, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dexumi.errors import DexumiError
from dexumi.hands import registry
from dexumi.retarget import PiecewiseCurve, PolyCurve, Retargeter, fit_curve, load_map, map_to_dict, parse_map
from dexumi.retarget.align import fit_similarity, rpy_matrix
from dexumi.retarget.filters import LowPassFilter
from dexumi.joint_files import read_joints, select_channels, write_joints
from dexumi.retarget.metrics import derivatives, evaluate, limit_excess
from dexumi.retarget.solver import FingertipSolver, SolverSettings

MAPS = registry.MODELS_DIR.parent / "maps"
LEAP = Path(__file__).resolve().parents[2] / "shared" / "hands" / "leap_hand" / "leap_hand_right.urdf"
INSPIRE_CHANNELS = ["exo_thumb_yaw", "exo_thumb_pitch", "exo_index", "exo_middle", "exo_ring", "exo_pinky"]


def inspire_map(joints: dict, **extra) -> str:
    doc = {
        "version": 1,
        "robot": "inspire_like",
        "exoskeleton": "inspire_exo",
        "mode": "joint",
        "channels": INSPIRE_CHANNELS,
        "joints": joints,
        **extra,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def smooth_path(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, n: int, knots: int = 6, margin: float = 0.1
) -> np.ndarray:
    span = hi - lo
    way = rng.uniform(lo + margin * span, hi - margin * span, size=(knots, lo.size))
    t = np.linspace(0, knots - 1, n)
    return np.stack([np.interp(t, np.arange(knots), way[:, j]) for j in range(lo.size)], axis=1)


# ---- curves --------------------------------------------------------------------------------------
def test_fit_linear_recovers_sign_scale_offset_exactly() -> None:
    x = np.linspace(-0.2, 1.4, 50)
    c = fit_curve(x, -0.8 * x + 0.25, "linear")
    assert (c.sign, c.scale, c.offset) == (-1, pytest.approx(0.8, abs=1e-12), pytest.approx(0.25, abs=1e-12))


def test_fit_piecewise_recovers_knots_exactly() -> None:
    true = PiecewiseCurve((0.0, 0.5, 1.0, 1.5), (0.0, 0.2, 0.9, 1.0))
    x = np.linspace(0.0, 1.5, 61)  # the quantile knots fall on the true knots
    c = fit_curve(x, true(x), "piecewise", knots=4)
    np.testing.assert_allclose(c.x, true.x, atol=1e-12)
    np.testing.assert_allclose(c.y, true.y, atol=1e-12)


def test_fit_piecewise_is_monotonic_on_noisy_data() -> None:
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1.5, 400))
    c = fit_curve(x, np.sin(x) + rng.normal(0, 0.05, x.size), "piecewise", knots=12)
    assert np.all(np.diff(c.y) >= 0)


def test_fit_poly_recovers_cubic_and_rejects_non_monotonic() -> None:
    x = np.linspace(0.0, 1.5, 40)
    coeffs = (0.1, 0.9, 0.05, -0.02)
    c = fit_curve(x, np.polynomial.polynomial.polyval(x, coeffs), "poly", degree=3)
    np.testing.assert_allclose(c.coeffs, coeffs, atol=1e-10)
    with pytest.raises(DexumiError, match="not monotonic"):
        fit_curve(x, np.cos(4 * x), "poly", degree=3)


def test_curve_serialisation_round_trip_through_the_map_file() -> None:
    x = np.linspace(0, 1.47, 30)
    pw = fit_curve(x, 0.9 * x, "piecewise", knots=5)
    text = inspire_map(
        {
            "index_proximal": {"from": "exo_index", **pw.to_dict()},
            "middle_proximal": {"from": "exo_middle", **PolyCurve((0.0, 1.0, 0.1), (0.0, 1.5)).to_dict()},
            "thumb_yaw": {"from": "exo_thumb_yaw", "sign": -1, "offset": 1.3},
        }
    )
    m = parse_map(text)
    again = parse_map(yaml.safe_dump(map_to_dict(m), sort_keys=False))
    assert again == m


# ---- joint mode ----------------------------------------------------------------------------------
def test_joint_mode_applies_known_offsets_signs_curves_exactly() -> None:
    text = inspire_map(
        {
            "thumb_yaw": {"from": "exo_thumb_yaw", "sign": -1, "offset": 1.2},
            "thumb_pitch": {"from": "exo_thumb_pitch", "scale": 0.5, "offset": 0.1},
            "index_proximal": {"from": "exo_index", "piecewise": {"x": [0.0, 1.0, 2.0], "y": [0.0, 0.5, 1.4]}},
            "middle_proximal": {"from": "exo_middle", "poly": [0.0, 0.5, 0.2], "domain": [0.0, 1.5]},
            "ring_proximal": "exo_ring",
        },
        defaults={"pinky_proximal": 0.7},
    )
    r = Retargeter(parse_map(text), registry.load("inspire_like"), registry.load("inspire_exo"))
    x = np.array([[0.2, 0.4, 0.5, 1.0, 0.3, 0.9], [1.0, 0.0, 1.5, 0.5, 1.2, 0.0]])
    q = r.retarget(x)
    named = [r.robot.named(row) for row in q]
    assert named[0] == pytest.approx(
        {
            "thumb_yaw": 1.0,
            "thumb_pitch": 0.3,
            "index_proximal": 0.25,
            "middle_proximal": 0.7,
            "ring_proximal": 0.3,
            "pinky_proximal": 0.7,
        },
        abs=1e-12,
    )
    assert named[1] == pytest.approx(
        {
            "thumb_yaw": 0.2,
            "thumb_pitch": 0.1,
            "index_proximal": 0.95,
            "middle_proximal": 0.3,
            "ring_proximal": 1.2,
            "pinky_proximal": 0.7,
        },
        abs=1e-12,
    )


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 20), st.just(6)), elements=st.floats(-20, 20, allow_nan=False)))
def test_joint_mode_output_always_within_limits(x: np.ndarray) -> None:
    r = _bundled_joint_retargeter()
    q = r.retarget(x)
    assert q.shape == (x.shape[0], 6)
    assert np.all(q >= r.robot.lower) and np.all(q <= r.robot.upper)
    assert not limit_excess(r.robot, q).any()


_CACHE: dict[str, Retargeter] = {}


def _bundled_joint_retargeter() -> Retargeter:
    if "inspire" not in _CACHE:
        _CACHE["inspire"] = Retargeter.from_map(MAPS / "inspire.yaml")
    return _CACHE["inspire"]


def test_joint_mode_exo_fingertips_land_near_robot_fingertips() -> None:
    """The bundled pairs are designed together: a 1:1 joint map puts the tips within a few mm."""
    for name in ("inspire", "xhand"):
        r = Retargeter.from_map(MAPS / f"{name}.yaml")
        exo_q = smooth_path(np.random.default_rng(1), r.exo.lower, r.exo.upper, 200)
        x = np.empty_like(exo_q)
        x[:, [r.channels.index(n) for n in r.exo.joint_names]] = exo_q
        _, summary = evaluate(r, x, r.retarget(x), np.arange(200) / 30.0)
        assert summary.tip_error_mean_mm < 10.0 and summary.limit_violation_frames == 0


# ---- map-file errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,pattern",
    [
        ("robot: inspire_like\n", r"<map>:1: version: missing"),
        ("version: 7\nrobot: x\n", r"version: unsupported version 7"),
        (
            "version: 1\nrobot: inspire_like\nchannels: [a]\nmode: joint\njoints:\n  index_proximal: {from: a, scael: 2}\n",
            r"<map>:6: joints\.index_proximal\.scael: unknown key",
        ),
        (
            "version: 1\nrobot: inspire_like\nchannels: [a]\njoints:\n  index_proximal: {from: b}\n",
            r"joints\.index_proximal\.from: channel 'b' is not in 'channels'",
        ),
        (
            "version: 1\nrobot: r\nchannels: [a]\njoints:\n  j: {from: a, piecewise: {x: [0, 1, 2], y: [0, 1, 0.5]}}\n",
            r"<map>:5: joints\.j: piecewise curve y knots must be monotonic",
        ),
        ("version: 1\nrobot: r\nchannels: [a, a]\n", r"channel 'a' is listed twice"),
        ("version: 1\n  robot: [\n", r"<map>:\d+: not valid YAML"),
        ("version: 1\nrobot: r\nchannels: [a]\nmode: fingertip\n", r"mode 'fingertip' needs the exoskeleton"),
    ],
)
def test_map_errors_name_the_key_and_line(text: str, pattern: str) -> None:
    with pytest.raises(DexumiError, match=pattern) as info:
        parse_map(text)
    assert "\n" not in str(info.value)


def test_map_naming_a_joint_the_urdf_lacks() -> None:
    m = parse_map(inspire_map({"wrist_roll": "exo_index"}))
    with pytest.raises(DexumiError, match=r"joints\.wrist_roll: inspire_like: no joint 'wrist_roll'"):
        Retargeter(m, registry.load("inspire_like"), registry.load("inspire_exo"))
    m = parse_map(inspire_map({"index_intermediate": "exo_index"}))
    with pytest.raises(DexumiError, match="is a mimic of 'index_proximal'"):
        Retargeter(m, registry.load("inspire_like"), registry.load("inspire_exo"))


def test_map_with_wrong_channel_count() -> None:
    text = inspire_map({"index_proximal": "exo_index"}).replace("- exo_pinky\n", "")
    with pytest.raises(
        DexumiError, match=r"lists 5 channels but exoskeleton 'inspire_exo' has 6 joints; missing 'exo_pinky'"
    ):
        Retargeter(parse_map(text), registry.load("inspire_like"), registry.load("inspire_exo"))
    r = _bundled_joint_retargeter()
    with pytest.raises(DexumiError, match="input has 5 channels per frame but the map lists 6"):
        r.retarget(np.zeros((3, 5)))


def test_map_relative_urdf_path_and_toml(tmp_path: Path) -> None:
    (tmp_path / "hands").mkdir()
    (tmp_path / "hands" / "robot.urdf").write_text(registry.get("inspire_like").path.read_text())
    (tmp_path / "m.toml").write_text(
        'version = 1\nrobot = "hands/robot.urdf"\nchannels = ["e"]\n[joints.index_proximal]\nfrom = "e"\nscale = 2.0\n'
    )
    r = Retargeter.from_map(tmp_path / "m.toml")
    q = r.retarget(np.array([[0.3]]))
    assert r.robot.named(q[0])["index_proximal"] == pytest.approx(0.6)


def test_map_pointing_at_broken_urdf(tmp_path: Path) -> None:
    (tmp_path / "bad.urdf").write_text("<robot name='x'><link name='a'/>")
    (tmp_path / "m.yaml").write_text("version: 1\nrobot: bad.urdf\nchannels: [e]\njoints: {j: e}\n")
    with pytest.raises(DexumiError, match=r"m\.yaml: robot: .*bad\.urdf: not a valid URDF: XML error at line 1"):
        Retargeter.from_map(tmp_path / "m.yaml")


# ---- fingertip mode ------------------------------------------------------------------------------
def _well_posed_fingers(kin, q: np.ndarray, threshold: float = 2e-3) -> list[np.ndarray]:
    """Joint columns of each finger whose tip Jacobian is well conditioned at q."""
    _, jac = kin.positions_and_jacobians(q, kin.frame_ids(None))
    out = []
    for j in jac:
        cols = np.flatnonzero(np.abs(j).sum(axis=0) > 1e-12)
        if np.linalg.svd(j[:, cols], compute_uv=False).min() > threshold:
            out.append(cols)
    return out


def test_round_trip_fully_actuated_hand_random_configs() -> None:
    kin = registry.load("xhand_like")
    qs = kin.random_q(np.random.default_rng(5), 80, margin=0.05)
    targets = kin.batch_positions(qs)
    solver = FingertipSolver(kin, kin.tip_frames, settings=SolverSettings(temporal_weight=0.0, tolerance=1e-10))
    checked = 0
    for q_true, t in zip(qs, targets):
        solver.reset()  # cold start from the middle of the limits
        q, _, _ = solver.solve(t)
        assert np.all(q >= kin.lower) and np.all(q <= kin.upper)
        assert np.linalg.norm(kin.frame_positions(q) - t, axis=1).max() < 1e-3  # within 1 mm
        for cols in _well_posed_fingers(kin, q_true):
            np.testing.assert_allclose(q[cols], q_true[cols], atol=1e-3)
            checked += 1
    assert checked > 200


def test_round_trip_fully_actuated_hand_trajectory_via_retargeter() -> None:
    r = Retargeter.from_map(MAPS / "xhand.yaml", mode="fingertip")
    qs = smooth_path(np.random.default_rng(6), r.robot.lower, r.robot.upper, 150)
    targets = r.robot.batch_positions(qs, r.tips.robot_frames)
    out = r.solve_targets(targets)
    err = np.linalg.norm(r.robot.batch_positions(out, r.tips.robot_frames) - targets, axis=-1)
    assert err.max() < 1e-3


def test_fingertip_mode_matches_a_reference_least_squares_optimum() -> None:
    """On unreachable targets (exoskeleton tips) the solver reaches the optimum scipy finds."""
    from scipy.optimize import least_squares

    r = Retargeter.from_map(MAPS / "inspire.yaml", mode="fingertip")
    exo_q = smooth_path(np.random.default_rng(7), r.exo.lower, r.exo.upper, 60)
    x = np.empty_like(exo_q)
    x[:, [r.channels.index(n) for n in r.exo.joint_names]] = exo_q
    q = r.retarget(x)
    targets = r.fingertip_targets(x)
    frames = r.tips.robot_frames
    for i in (10, 30, 59):
        ref = least_squares(
            lambda v, i=i: (r.robot.frame_positions(v, frames) - targets[i]).ravel(),
            q[i],
            bounds=(r.robot.lower, r.robot.upper),
            xtol=1e-12,
            ftol=1e-12,
        )
        ours = np.linalg.norm(r.robot.frame_positions(q[i], frames) - targets[i], axis=1).mean()
        best = np.linalg.norm(ref.fun.reshape(-1, 3), axis=1).mean()
        assert ours <= best + 1e-4  # within 0.1 mm of the optimum (the temporal term costs a little)
    assert np.all(q >= r.robot.lower) and np.all(q <= r.robot.upper)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (5, 3), elements=st.floats(-0.5, 0.5, allow_nan=False)))
def test_fingertip_mode_stays_within_limits_for_any_targets(targets: np.ndarray) -> None:
    kin = _CACHE.setdefault("inspire_kin", registry.load("inspire_like"))  # type: ignore[arg-type]
    solver = FingertipSolver(kin, kin.tip_frames)
    q, _, _ = solver.solve(targets)
    assert np.all(q >= kin.lower) and np.all(q <= kin.upper) and np.all(np.isfinite(q))


def test_direction_terms_pull_the_finger_direction() -> None:
    text = (MAPS / "inspire.yaml").read_text().replace("mode: joint", "mode: fingertip")
    text += (
        "  directions:\n    - {exo: [exo_index_link, index_tip], robot: [index_proximal_link, index_tip],"
        " weight: 0.05}\n"
    )
    r = Retargeter(parse_map(text), registry.load("inspire_like"), registry.load("inspire_exo"))
    x = np.tile([0.5, 0.3, 0.9, 0.8, 0.7, 0.6], (5, 1))
    d = r.direction_targets(x)
    assert d.shape == (5, 1, 3) and np.allclose(np.linalg.norm(d, axis=-1), 1.0)
    q = r.retarget(x)
    p = r.robot.frame_positions(q[-1], ["index_proximal_link", "index_tip"])
    u = (p[1] - p[0]) / np.linalg.norm(p[1] - p[0])
    assert np.degrees(np.arccos(np.clip(u @ d[-1, 0], -1, 1))) < 5.0


def test_leap_fingertip_retargeting_from_an_exoskeleton() -> None:
    if not LEAP.exists():
        pytest.skip(f"{LEAP} absent (third-party URDF used for tests)")
    text = yaml.safe_dump(
        {
            "version": 1,
            "robot": str(LEAP),
            "exoskeleton": "xhand_exo",
            "mode": "fingertip",
            "channels": list(registry.load("xhand_exo").joint_names),
            "fingertip": {
                "pairs": {f: f for f in ("thumb_tip", "index_tip", "middle_tip", "ring_tip")},
                "align": "auto",
            },
        }
    )
    r = Retargeter.from_map(parse_map(text))
    assert 1.4 < r.tips.alignment.scale < 2.0  # LEAP is a large hand
    x = smooth_path(np.random.default_rng(8), r.exo.lower, r.exo.upper, 200)
    q = r.retarget(x)
    assert np.all(q >= r.robot.lower) and np.all(q <= r.robot.upper)
    fm, summary = evaluate(r, x, q, np.arange(200) / 30.0)
    open_hand = r.robot.batch_positions(np.tile(r.robot.clip(np.zeros(16)), (200, 1)), r.tips.robot_frames)
    start = np.linalg.norm(open_hand - r.fingertip_targets(x), axis=-1).mean() * 1e3
    # most frames match (LEAP's workspace differs from the exoskeleton's: some targets are unreachable)
    assert summary.tip_error_median_mm < 1.0 and summary.tip_error_mean_mm < 0.1 * start


# ---- alignment, filter, metrics, files -----------------------------------------------------------
def test_fit_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(9)
    src = rng.normal(size=(10, 3))
    rot = rpy_matrix((0.3, -0.2, 1.1))
    dst = 1.7 * src @ rot.T + np.array([0.1, -0.2, 0.3])
    a = fit_similarity(src, dst)
    np.testing.assert_allclose(a.rotation, rot, atol=1e-12)
    assert a.scale == pytest.approx(1.7) and np.allclose(a.apply(src), dst)


def test_low_pass_filter_step_response_and_streaming() -> None:
    f = LowPassFilter(cutoff_hz=2.0, rate_hz=50.0)
    x = np.zeros((100, 2))
    x[1:] = 1.0
    y = f(x)
    a = 1 - np.exp(-2 * np.pi * 2.0 / 50.0)
    np.testing.assert_allclose(y[1:, 0], 1 - (1 - a) ** np.arange(1, 100), atol=1e-12)
    g = LowPassFilter(cutoff_hz=2.0)
    t = np.arange(100) / 50.0
    y2 = np.concatenate([g(x[:40], t[:40]), g(x[40:], t[40:])])  # timestamps, in two chunks
    np.testing.assert_allclose(y2, y, atol=1e-12)


def test_filter_in_a_map_smooths_joint_mode() -> None:
    text = inspire_map({"index_proximal": "exo_index"}, filter={"cutoff_hz": 1.0, "rate_hz": 30.0})
    r = Retargeter(parse_map(text), registry.load("inspire_like"), registry.load("inspire_exo"))
    x = np.zeros((30, 6))
    x[10:, 2] = 1.0
    q = r.retarget(x)[:, r.robot.index("index_proximal")]
    assert q[9] == 0.0 and 0.0 < q[10] < 0.3 and np.all(np.diff(q) >= 0) and q[-1] < 1.0


def test_derivatives_of_known_trajectories() -> None:
    t = np.cumsum(np.r_[0.0, np.full(49, 0.02)])
    q = np.stack([0.5 * t, t**2], axis=1)
    vel, jerk = derivatives(q, t)
    np.testing.assert_allclose(vel[:, 0], 0.5, atol=1e-12)
    np.testing.assert_allclose(vel[1:-1, 1], 2 * t[1:-1], atol=1e-12)
    np.testing.assert_allclose(jerk[4:-4], 0.0, atol=1e-6)
    with pytest.raises(DexumiError, match="increase strictly"):
        derivatives(q, t[::-1].copy())


def test_metrics_zero_tip_error_when_robot_is_the_exoskeleton() -> None:
    text = yaml.safe_dump(
        {
            "version": 1,
            "robot": "xhand_exo",
            "exoskeleton": "xhand_exo",
            "channels": list(registry.load("xhand_exo").joint_names),
            "joints": {n: n for n in registry.load("xhand_exo").joint_names},
        }
    )
    r = Retargeter.from_map(parse_map(text))
    x = smooth_path(np.random.default_rng(10), r.exo.lower, r.exo.upper, 50)
    fm, s = evaluate(r, x, r.retarget(x), np.arange(50) / 30.0)
    assert s.tip_error_max_mm < 1e-9 and s.limit_violation_frames == 0 and s.velocity_max_rad_s > 0
    bad = r.retarget(x)
    bad[3, 0] = r.robot.upper[0] + 0.25
    fm, s = evaluate(r, x, bad)
    assert s.limit_violation_frames == 1 and s.limit_violation_max_rad == pytest.approx(0.25)


def test_joint_files_round_trip(tmp_path: Path) -> None:
    import h5py

    names = ("a", "b", "c")
    q = np.arange(12.0).reshape(4, 3) / 10
    write_joints(tmp_path / "o.csv", q, names, np.arange(4) / 30)
    rec = read_joints(tmp_path / "o.csv")
    assert rec.names == names and np.allclose(rec.values, q) and np.allclose(rec.timestamps, np.arange(4) / 30)
    with h5py.File(tmp_path / "ep.h5", "w") as f:
        ds = f.create_dataset("observations/exo_joints", data=q[:, ::-1])
        ds.attrs["names"] = ["c", "b", "a"]
    rec = read_joints(tmp_path / "ep.h5")
    np.testing.assert_array_equal(select_channels(rec, names), q)
    with pytest.raises(DexumiError, match="no column named 'd'"):
        select_channels(rec, ("a", "d"))
    (tmp_path / "x.urdf").write_text("<robot/>")
    with pytest.raises(DexumiError, match="unsupported input type '.urdf'"):
        read_joints(tmp_path / "x.urdf")


def test_bundled_maps_load() -> None:
    for p in sorted(MAPS.glob("*.yaml")):
        m = load_map(p)
        assert m.version == 1 and Retargeter.from_map(m).robot.name == m.robot


def test_documented_example_map_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "retargeting.md").read_text()
    text = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    m = parse_map(text)
    r = Retargeter(m, registry.load(m.robot), registry.load(m.exoskeleton))
    x = np.tile([0.3, 0.2, 0.5, 0.6, 0.7, 0.8], (4, 1))
    assert np.all(np.isfinite(r.retarget(x, np.arange(4) / 30.0)))
    assert np.all(np.isfinite(r.with_mode("fingertip").retarget(x, np.arange(4) / 30.0)))
