"""Kinematics: mimic reduction against an explicit model, Jacobians, names, limits, batched FK."""

from __future__ import annotations

import numpy as np
import pytest

from dexumi.errors import DexumiError
from dexumi.hands import author, registry
from dexumi.kinematics import HandKinematics

# The published linkage coefficients, written out here rather than read back from the model.
COUPLING = {
    "index_intermediate": ("index_proximal", 1.06399, -0.04545),
    "middle_intermediate": ("middle_proximal", 1.06399, -0.04545),
    "ring_intermediate": ("ring_proximal", 1.06399, -0.04545),
    "pinky_intermediate": ("pinky_proximal", 1.06399, -0.04545),
    "thumb_intermediate": ("thumb_pitch", 1.334, 0.0),
    "thumb_distal": ("thumb_pitch", 0.667, 0.0),
}


@pytest.fixture(scope="module")
def reduced() -> HandKinematics:
    return registry.load("inspire_like")


@pytest.fixture(scope="module")
def explicit() -> HandKinematics:
    return registry.load("inspire_like", mimic=False)


def expand_by_hand(reduced: HandKinematics, explicit: HandKinematics, q: np.ndarray) -> np.ndarray:
    named = reduced.named(q)
    full = dict(named)
    for joint, (src, mult, off) in COUPLING.items():
        full[joint] = mult * named[src] + off
    return explicit.q_from(full)


def test_explicit_model_has_all_12_joints(explicit: HandKinematics) -> None:
    assert explicit.nq == 12 and not explicit.mimics


def test_mimic_fk_equals_explicit_model_with_couplings_by_hand(reduced, explicit) -> None:
    rng = np.random.default_rng(0)
    frames = list(reduced.tip_frames) + [f"{j}_link" for j in COUPLING]
    for q in reduced.random_q(rng, 50):
        a = reduced.frame_positions(q, frames)
        b = explicit.frame_positions(expand_by_hand(reduced, explicit, q), frames)
        np.testing.assert_allclose(a, b, atol=1e-9, rtol=0)


def test_full_q_expands_mimic_joints(reduced, explicit) -> None:
    q = reduced.random_q(np.random.default_rng(1))
    full = dict(zip(reduced.all_joint_names, reduced.full_q(q)))
    expected = explicit.named(expand_by_hand(reduced, explicit, q))
    assert full == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["inspire_like", "xhand_like"])
def test_frame_jacobians_match_finite_differences(name: str) -> None:
    kin = registry.load(name)
    rng = np.random.default_rng(2)
    eps = 1e-6
    for q in kin.random_q(rng, 10, margin=0.05):
        jac = kin.frame_jacobians(q)
        fd = np.empty_like(jac)
        for j in range(kin.nq):
            dq = np.zeros(kin.nq)
            dq[j] = eps
            fd[:, :, j] = (kin.frame_positions(q + dq) - kin.frame_positions(q - dq)) / (2 * eps)
        np.testing.assert_allclose(jac, fd, atol=1e-8, rtol=0)


def test_reduced_jacobian_is_the_chain_rule_of_the_explicit_one(reduced, explicit) -> None:
    q = reduced.random_q(np.random.default_rng(3))
    qe = expand_by_hand(reduced, explicit, q)
    dfull = np.zeros((explicit.nq, reduced.nq))  # d q_explicit / d q_reduced
    for n in reduced.joint_names:
        dfull[explicit.index(n), reduced.index(n)] = 1.0
    for joint, (src, mult, _) in COUPLING.items():
        dfull[explicit.index(joint), reduced.index(src)] = mult
    np.testing.assert_allclose(reduced.frame_jacobians(q), explicit.frame_jacobians(qe) @ dfull, atol=1e-12)


def test_joints_are_addressed_by_name_not_file_order(reduced) -> None:
    file_order = [n for n in reduced.all_joint_names if n not in reduced.mimics]
    assert file_order[0] == "thumb_yaw" and reduced.joint_names[0] != "thumb_yaw"  # pinocchio's depth-first order
    q = reduced.q_from({"thumb_yaw": 0.3, "ring_proximal": 1.1})
    assert q[reduced.index("thumb_yaw")] == 0.3 and reduced.named(q)["ring_proximal"] == 1.1
    # the same named configuration moves the same fingertip whatever the internal order
    tips0 = reduced.frame_positions(reduced.q_from({}))
    moved = np.linalg.norm(reduced.frame_positions(q) - tips0, axis=1)
    assert dict(zip(reduced.tip_frames, moved > 1e-6)) == {
        "thumb_tip": True,
        "index_tip": False,
        "middle_tip": False,
        "ring_tip": True,
        "pinky_tip": False,
    }


def test_unknown_and_mimic_joint_names_are_errors(reduced) -> None:
    with pytest.raises(DexumiError, match="no joint 'wrist'"):
        reduced.index("wrist")
    with pytest.raises(DexumiError, match="mimic of 'thumb_pitch'"):
        reduced.index("thumb_distal")
    with pytest.raises(DexumiError, match="no frame 'nail'"):
        reduced.frame_positions(np.zeros(6), ["nail"])
    with pytest.raises(DexumiError, match="expected 6 joint values"):
        reduced.frame_positions(np.zeros(5))


def test_limits_and_clip(reduced) -> None:
    q = reduced.clip(np.full(6, 10.0))
    assert reduced.named(q)["thumb_pitch"] == 0.6 and reduced.named(q)["index_proximal"] == 1.47
    assert np.all(reduced.clip(np.full(6, -10.0)) == 0.0)


def test_batched_fk_equals_per_frame_fk() -> None:
    kin = registry.load("xhand_like")
    qs = kin.random_q(np.random.default_rng(4), 40)
    batch = kin.batch_positions(qs, ["index_tip", "thumb_tip"])
    assert batch.shape == (40, 2, 3)
    for i in (0, 17, 39):
        np.testing.assert_array_equal(batch[i], kin.frame_positions(qs[i], ["index_tip", "thumb_tip"]))


def test_known_geometry_of_a_straight_finger() -> None:
    kin = HandKinematics(author.render(author.xhand_like()), "xhand")
    q = kin.q_from({"index_mcp": 0.0, "index_pip": 0.0, "index_abd": 0.0})
    tip = kin.frame_positions(q, ["index_tip"])[0]
    # base (0, .027, .105) + proximal .045 + tip (.004, 0, .048): all along +z when straight
    np.testing.assert_allclose(tip, [0.004, 0.027, 0.105 + 0.045 + 0.048], atol=1e-12)
    q90 = kin.q_from({"index_mcp": np.pi / 2}, default=q)
    np.testing.assert_allclose(
        kin.frame_positions(q90, ["index_tip"])[0], [0.045 + 0.048, 0.027, 0.105 - 0.004], atol=1e-12
    )
