"""Fingertip inverse kinematics: damped least squares (Levenberg-Marquardt) with box limits.

Per frame: residuals r = [w_k (p_k(q) - target_k); w_d (u_d(q) - dir_d); tau (q - q_prev)], one pinocchio pass
for all frame positions and Jacobians per iteration, a small normal-equation solve in numpy with an active
set for joints pressed against a limit, projection onto the box, and LM accept/reject. Warm-started from
the previous frame's solution, which the ``tau`` term also pulls towards (temporal regulariser).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scipy.linalg.lapack import dposv

from dexumi.kinematics import HandKinematics


def _spd_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """h x = g for a small symmetric positive definite h (LAPACK's Cholesky solve, little call overhead)."""
    _, x, info = dposv(h, g)
    return x if info == 0 else np.linalg.solve(h, g)


@dataclass(frozen=True)
class SolverSettings:
    """``temporal_weight`` tau in metres per radian: 1 rad of change costs like tau metres of tip error."""

    iterations: int = 10
    damping: float = 1e-6
    temporal_weight: float = 1e-3
    tolerance: float = 1e-6
    first_frame_iterations: int = 100
    # stop once an accepted step lowers the cost by less than this fraction (0: only `tolerance` stops)
    rel_decrease: float = 1e-2
    # warm start where the motion is heading (q_prev + (q_prev - q_before)), not at q_prev
    extrapolate: bool = True


@dataclass(frozen=True)
class SolveStats:
    """Per-frame iteration counts and final cost (sum of squared weighted residuals, m^2)."""

    iterations: np.ndarray
    cost: np.ndarray


class FingertipSolver:
    """Solve robot q so that named frames reach target positions (and optional directions)."""

    def __init__(
        self,
        kin: HandKinematics,
        frames: Sequence[str],
        weights: Sequence[float] | None = None,
        directions: Sequence[tuple[str, str, float]] = (),
        settings: SolverSettings | None = None,
    ) -> None:
        self.kin = kin
        self.settings = settings or SolverSettings()
        self.frames = tuple(frames)
        all_frames = list(dict.fromkeys(list(self.frames) + [f for d in directions for f in d[:2]]))
        self._ids = kin.frame_ids(all_frames)
        pos = {f: i for i, f in enumerate(all_frames)}
        self._tip_rows = np.array([pos[f] for f in self.frames], dtype=int)
        self._w = np.ones(len(self.frames)) if weights is None else np.asarray(weights, dtype=float)
        self._dirs = [(pos[a], pos[b], float(w)) for a, b, w in directions]
        self._lo, self._hi = kin.lower, kin.upper
        self._lo_in, self._hi_in = kin.lower + 1e-12, kin.upper - 1e-12
        self._eye = np.eye(kin.nq)
        self.q_prev: np.ndarray | None = None
        self._q_before: np.ndarray | None = None  # the solution before q_prev (for the extrapolated start)
        self._g = np.zeros(kin.nq)  # the last step's gradient
        self._unit_w = bool(np.all(self._w == 1.0)) and len(all_frames) == len(self.frames)

    def reset(self, q: np.ndarray | None = None) -> None:
        """Forget the previous frame (the next solve starts from ``q``, else from the middle of the limits,
        away from the straight-finger singularity)."""
        self.q_prev = None if q is None else self.kin.clip(np.asarray(q, dtype=float))
        self._q_before = None

    # ---- residuals ----------------------------------------------------------------------------
    def _residuals(
        self, q: np.ndarray, targets: np.ndarray, dir_targets: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        pos, jac = self.kin.positions_and_jacobians(q, self._ids)
        if not self._dirs and self._unit_w:  # the tips are all the frames, in order: no copies
            return (pos - targets).ravel(), jac.reshape(-1, q.size)
        w = self._w
        p, j = pos[self._tip_rows], jac[self._tip_rows]
        r = ((p - targets) * w[:, None]).ravel()
        jm = (j * w[:, None, None]).reshape(-1, q.size)
        if not self._dirs:
            return r, jm
        rs, js = [r], [jm]
        for k, (a, b, wd) in enumerate(self._dirs):
            v = pos[b] - pos[a]
            n = float(np.linalg.norm(v)) or 1e-12
            u = v / n
            proj = (np.eye(3) - np.outer(u, u)) / n
            rs.append(wd * (u - dir_targets[k]))  # type: ignore[index]
            js.append(wd * proj @ (jac[b] - jac[a]))
        return np.concatenate(rs), np.concatenate(js)

    def _step(
        self, jm: np.ndarray, r: np.ndarray, dq_ref: np.ndarray, q: np.ndarray, mu: float, tau2: float
    ) -> np.ndarray:
        h = jm.T @ jm
        h.flat[:: h.shape[0] + 1] += tau2 + mu
        g = jm.T @ r
        if tau2:
            g += tau2 * dq_ref
        self._g = g
        dq = -_spd_solve(h, g)
        at_lo, at_hi = q <= self._lo_in, q >= self._hi_in
        if not (at_lo.any() or at_hi.any()):
            return dq  # no joint at a limit: the unconstrained step (most frames)
        blocked = (at_lo & (dq < 0)) | (at_hi & (dq > 0))
        free = ~blocked
        for _ in range(3):  # active set: joints at a limit that the step pushes outwards are held
            if not blocked.any():
                break
            if not free.any():
                return np.zeros(q.size)
            idx = np.flatnonzero(free)
            dq = np.zeros(q.size)
            dq[idx] = -_spd_solve(h[np.ix_(idx, idx)], g[idx])
            blocked = free & ((at_lo & (dq < 0)) | (at_hi & (dq > 0)))
            free &= ~blocked
        return dq

    # ---- solving ------------------------------------------------------------------------------
    def solve(
        self, targets: np.ndarray, dir_targets: np.ndarray | None = None, iterations: int | None = None
    ) -> tuple[np.ndarray, int, float]:
        """One frame: (F,3) targets [+ (D,3) unit directions] -> (q, iterations used, final cost)."""
        s = self.settings
        first = self.q_prev is None
        q_ref = 0.5 * (self._lo + self._hi) if first else self.q_prev
        q = q_ref.copy()  # type: ignore[union-attr]
        if not first and s.extrapolate and self._q_before is not None:
            q = np.clip(2.0 * q_ref - self._q_before, self._lo, self._hi)  # type: ignore[operator]
        n_iter = iterations or (s.first_frame_iterations if first else s.iterations)
        tau2 = 0.0 if first else s.temporal_weight**2
        r, jm = self._residuals(q, targets, dir_targets)
        dq_ref = q - q_ref
        cost = float(r @ r) + tau2 * float(dq_ref @ dq_ref)
        mu = s.damping
        it = 0
        for it in range(1, n_iter + 1):  # noqa: B007 - the count is read after the loop
            dq = self._step(jm, r, dq_ref, q, mu, tau2)
            if abs(dq).max() < s.tolerance:
                break
            q_new = np.minimum(np.maximum(q + dq, self._lo), self._hi)
            if not first and s.rel_decrease:
                # the Gauss-Newton model's decrease for this step: when it is a negligible fraction of the
                # cost, take the step and stop (its evaluation would only confirm it)
                if -float(self._g @ dq) <= s.rel_decrease * cost:
                    q = q_new
                    break
            r_new, j_new = self._residuals(q_new, targets, dir_targets)
            dq_ref_new = q_new - q_ref
            cost_new = float(r_new @ r_new) + tau2 * float(dq_ref_new @ dq_ref_new)
            if cost_new <= cost:
                done = cost - cost_new <= s.rel_decrease * cost_new
                q, r, jm, dq_ref, cost = q_new, r_new, j_new, dq_ref_new, cost_new
                mu = max(mu * 0.3, s.damping)
                if done and not first:
                    break
            else:
                mu *= 10.0
        self._q_before = self.q_prev
        self.q_prev = q
        return q, it, cost

    def solve_batch(self, targets: np.ndarray, dir_targets: np.ndarray | None = None) -> tuple[np.ndarray, SolveStats]:
        """(N,F,3) targets -> (N,nq) joints, frame after frame, warm-started."""
        targets = np.asarray(targets, dtype=float)
        n = targets.shape[0]
        out = np.empty((n, self.kin.nq))
        iters = np.empty(n, dtype=int)
        costs = np.empty(n)
        for i in range(n):
            out[i], iters[i], costs[i] = self.solve(targets[i], None if dir_targets is None else dir_targets[i])
        return out, SolveStats(iters, costs)
