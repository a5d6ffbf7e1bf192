"""Bundled hand models and the registry: structure, published couplings, loading user URDFs, bad URDFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexumi.errors import DexumiError
from dexumi.hands import author, registry
from dexumi.kinematics import HandKinematics

LEAP = Path(__file__).resolve().parents[2] / "shared" / "hands" / "leap_hand" / "leap_hand_right.urdf"
TIPS5 = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")


def test_bundled_models_listed_with_pairs_and_files() -> None:
    models = {m.name: m for m in registry.bundled()}
    assert set(models) == {"inspire_like", "inspire_exo", "xhand_like", "xhand_exo"}
    for m in models.values():
        assert m.path.is_file() and m.path.suffix == ".urdf"
        assert m.kind in ("robot", "exoskeleton")
        assert models[m.pair].pair == m.name and models[m.pair].kind != m.kind


def test_committed_urdfs_equal_the_authored_specs() -> None:
    for stem, spec in author.bundled_specs().items():
        assert (registry.MODELS_DIR / f"{stem}.urdf").read_text() == author.render(spec), stem


def test_linkage_hand_has_6_actuated_12_joints_and_published_couplings() -> None:
    kin = registry.load("inspire_like")
    assert kin.nq == 6 and len(kin.all_joint_names) == 12 and len(kin.mimics) == 6
    for f in ("index", "middle", "ring", "pinky"):
        c = kin.mimics[f"{f}_intermediate"]
        assert (c.source, c.multiplier, c.offset) == (f"{f}_proximal", 1.06399, -0.04545)
    assert (
        kin.mimics["thumb_intermediate"].multiplier == 1.334
        and kin.mimics["thumb_intermediate"].source == "thumb_pitch"
    )
    assert kin.mimics["thumb_distal"].multiplier == 0.667
    lim = {n: (kin.lower[kin.index(n)], kin.upper[kin.index(n)]) for n in kin.joint_names}
    assert (
        lim["index_proximal"] == (0.0, 1.47) and lim["thumb_yaw"] == (0.0, 1.308) and lim["thumb_pitch"] == (0.0, 0.6)
    )
    assert "<mimic" in registry.get("inspire_like").path.read_text()


@pytest.mark.parametrize(
    "name,nq,total", [("inspire_like", 6, 12), ("inspire_exo", 6, 12), ("xhand_like", 12, 12), ("xhand_exo", 12, 12)]
)
def test_every_bundled_model_has_named_fingertips(name: str, nq: int, total: int) -> None:
    kin = registry.load(name)
    assert (kin.nq, len(kin.all_joint_names)) == (nq, total)
    assert kin.tip_frames == TIPS5
    tips = kin.frame_positions(kin.clip(np.zeros(kin.nq)))
    assert np.all(tips[:, 2] > 0.07)  # fingertips are beyond the palm (+z), in metres


def test_exoskeleton_channels_are_distinct_from_robot_joints() -> None:
    exo, robot = registry.load("xhand_exo"), registry.load("xhand_like")
    assert all(n.startswith("exo_") for n in exo.joint_names)
    assert sorted(n[4:] for n in exo.joint_names) == sorted(robot.joint_names)


def test_unknown_model_name_lists_known_ones() -> None:
    with pytest.raises(DexumiError, match="known: inspire_like"):
        registry.load("no_such_hand")
    with pytest.raises(DexumiError, match="not found"):
        registry.load("/nonexistent/hand.urdf")


def test_user_urdf_loads_by_path(tmp_path: Path) -> None:
    p = tmp_path / "mine.urdf"
    p.write_text(author.render(author.xhand_like(name="mine")))
    kin = registry.load(p)
    assert kin.nq == 12 and kin.name == "mine"


def test_leap_urdf_loads() -> None:
    if not LEAP.exists():
        pytest.skip(f"{LEAP} absent (third-party URDF used for tests)")
    kin = registry.load(LEAP)
    assert kin.nq == 16
    assert kin.tip_frames == ("thumb_tip", "index_tip", "middle_tip", "ring_tip")
    assert set(kin.joint_names) == {str(i) for i in range(16)}


BAD = {
    "truncated": (
        "<robot name='x'><link name='a'/><joint name='j' type='revolute'><parent link='a'/>",
        r"XML error at line \d+",
    ),
    "not_robot": ("<model/>", "root element is <model>"),
    "continuous": (
        "<robot name='x'><link name='a'/><link name='b'/><joint name='spin' type='continuous'>"
        "<parent link='a'/><child link='b'/></joint></robot>",
        "joint 'spin' has type 'continuous'",
    ),
    "bad_mimic": (
        "<robot name='x'><link name='a'/><link name='b'/><joint name='j2' type='revolute'>"
        "<parent link='a'/><child link='b'/><limit lower='0' upper='1' effort='1' velocity='1'/>"
        "<mimic joint='ghost'/></joint></robot>",
        "joint 'j2' mimics 'ghost'",
    ),
    "missing_child": (
        "<robot name='x'><link name='a'/><joint name='j' type='revolute'><parent link='a'/>"
        "<child link='zz'/><limit lower='0' upper='1' effort='1' velocity='1'/></joint></robot>",
        "joint 'j': child link 'zz' is not defined",
    ),
    "no_limit": (
        "<robot name='x'><link name='a'/><link name='b'/><joint name='j' type='revolute'><parent link='a'/>"
        "<child link='b'/></joint></robot>",
        r"joint 'j' \(revolute\) needs <limit",
    ),
    "two_roots": ("<robot name='x'><link name='a'/><link name='b'/></robot>", "2 root links"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_urdf_is_a_one_line_error(case: str, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    text, pattern = BAD[case]
    p = tmp_path / f"{case}.urdf"
    p.write_text(text)
    with pytest.raises(DexumiError, match=pattern) as info:
        HandKinematics.from_urdf(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)
    assert capfd.readouterr().err == ""  # nothing from urdfdom on stderr
