"""The fingertip solver's work per frame: few model evaluations on a smooth trajectory, at the error of a
solve run to convergence (the figure behind `speedup_vs_dexret_median` in benchmarks/retarget.py)."""

from __future__ import annotations

import numpy as np

from dexumi.hands import registry
from dexumi.retarget import Retargeter
from dexumi.retarget.solver import FingertipSolver, SolverSettings
from firmware_bridge.emulator.motion import GraspCycleMotion

MAPS = registry.MODELS_DIR.parent / "maps"


def grasp_targets(r: Retargeter, frames: int = 600) -> np.ndarray:
    """Fingertip targets of the exoskeleton following the emulator's grasp motion at 30 Hz."""
    motion = GraspCycleMotion(r.exo.nq, seed=1)
    unit = np.clip(
        (motion.angles(np.arange(frames) / 30.0) - motion.low_rad) / (motion.high_rad - motion.low_rad), 0, 1
    )
    exo_q = r.exo.lower + (0.05 + 0.9 * unit) * (r.exo.upper - r.exo.lower)
    x = np.empty_like(exo_q)
    x[:, [r.channels.index(n) for n in r.exo.joint_names]] = exo_q
    return r.fingertip_targets(x)


def evaluations_and_error(solver: FingertipSolver, targets: np.ndarray) -> tuple[float, float]:
    calls = [0]
    inner = solver._residuals

    def counted(*args):
        calls[0] += 1
        return inner(*args)

    solver._residuals = counted  # type: ignore[method-assign]
    q, _ = solver.solve_batch(targets)
    err = np.linalg.norm(solver.kin.batch_positions(q, solver.frames) - targets, axis=-1).mean()
    return calls[0] / len(targets), float(err)


def test_few_model_evaluations_per_frame_at_the_converged_error():
    r = Retargeter.from_map(MAPS / "inspire.yaml", mode="fingertip")
    targets = grasp_targets(r)
    per_frame, err = evaluations_and_error(r.solver, targets)
    s = r.solver.settings
    converged = FingertipSolver(
        r.robot,
        r.tips.robot_frames,
        settings=SolverSettings(100, s.damping, s.temporal_weight, 1e-12, rel_decrease=0.0, extrapolate=False),
    )
    _, err_converged = evaluations_and_error(converged, targets)
    assert per_frame <= 3.0, f"{per_frame:.2f} FK + Jacobian evaluations per frame"
    assert err <= err_converged + 1e-5, (err, err_converged)  # within 0.01 mm of the converged solve
