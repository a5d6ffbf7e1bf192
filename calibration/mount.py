"""Camera ↔ exoskeleton extrinsics: where a wrist camera sits on the exoskeleton, from its own images.

The exoskeleton carries its encoder caps (orange, one per finger link) in every wrist-camera frame, and the
encoder angles say where each cap is: forward kinematics of the exoskeleton model at the recorded joints
gives every cap's centre in the wrist frame. Starting from the CAD prior (the profile's mount, or the
design's), each frame's orange blobs are matched to the caps projected with the current estimate; the pose
is then refined over every frame at once by minimising the reprojection error (OpenCV's pinhole or fisheye
model through `cv2.undistortPoints`, then a Levenberg–Marquardt PnP on normalised coordinates), re-matching
as it converges. Blobs that are not one cap (two merged caps, a cap half hidden: area far from the model's,
or a centroid far from any projection) are left out. The residual is reported in pixels.

    result = calibrate_mount(images, joints, names, intrinsics, prior_T, exo="inspire_exo")
    result.T_wrist_cam, result.residual_px, result.points
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.errors import DexumiError
from dexumi.visual.mount import CameraMount, Intrinsics, matrix_rotvec, pose_error, rotvec_matrix

log = logging.getLogger(__name__)

# the exoskeleton's encoder caps: orange (0.95, 0.45, 0.05) in the bundled models' colours
HUE_MAX, SAT_MIN, VAL_MIN = 22, 150, 90


@dataclass
class MountResult:
    T_wrist_cam: np.ndarray
    residual_px: float  # RMS reprojection error of the matched caps
    frames: int
    points: int
    prior_shift_mm: float
    prior_shift_deg: float

    def mount(self) -> CameraMount:
        return CameraMount.from_matrix(
            self.T_wrist_cam,
            method="caps",
            residual_px=self.residual_px,
            frames=self.frames,
            points=self.points,
            extra={"prior_shift_mm": self.prior_shift_mm, "prior_shift_deg": self.prior_shift_deg},
        )


def cap_positions(exo: str, names: list[str], joints: np.ndarray) -> np.ndarray:
    """(F, C, 3) centres of the exoskeleton's encoder caps in the wrist frame at each frame's joints."""
    from dexumi.visual.models import exo_model
    from dexumi.visual.view import mjcf
    from dexumi.sim.world import setup_gl

    setup_gl()
    import mujoco

    hm = exo_model(exo)
    m = mujoco.MjModel.from_xml_string(mjcf(hm), hm.assets)
    d = mujoco.MjData(m)
    caps = [g for g in range(m.ngeom) if m.geom(g).name.endswith(":enc")]
    if not caps:
        raise DexumiError(f"exoskeleton model '{exo}' has no encoder caps (geoms named '*:enc') to calibrate on")
    qadr = {m.joint(i).name: int(m.jnt_qposadr[i]) for i in range(m.njnt)}
    out = np.empty((len(joints), len(caps), 3))
    for k, q in enumerate(np.asarray(joints, np.float64)):
        for name, v in hm.couple(dict(zip(names, q))).items():
            if name in qadr:
                d.qpos[qadr[name]] = v
        mujoco.mj_kinematics(m, d)
        out[k] = d.geom_xpos[caps]
    return out


def detect_caps(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centroids (n, 2) px, areas (n,)) of the orange blobs in an image."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    m: np.ndarray = ((hsv[..., 0] <= HUE_MAX) & (hsv[..., 1] >= SAT_MIN) & (hsv[..., 2] >= VAL_MIN)).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, _, stats, cent = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = stats[1:, cv2.CC_STAT_AREA] >= 4
    return cent[1:][keep], stats[1:, cv2.CC_STAT_AREA][keep].astype(np.float64)


def _project(P: np.ndarray, T_wc: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Wrist-frame points (n, 3) to pixels with the camera at T_wc (camera in wrist)."""
    T_cw = np.linalg.inv(T_wc)
    rv, t = cv2.Rodrigues(T_cw[:3, :3])[0], T_cw[:3, 3]
    K, dist = np.asarray(intr.K, np.float64), np.asarray(intr.dist, np.float64)
    pts = np.ascontiguousarray(P, np.float64).reshape(-1, 1, 3)
    if intr.model == "fisheye":
        out = cv2.fisheye.projectPoints(pts, np.ascontiguousarray(rv), np.ascontiguousarray(t).reshape(3, 1), K, dist)[
            0
        ]
    else:
        out = cv2.projectPoints(pts, rv, t, K, dist)[0]
    return out.reshape(-1, 2)


def _normalise(uv: np.ndarray, intr: Intrinsics) -> np.ndarray:
    K, dist = np.asarray(intr.K, np.float64), np.asarray(intr.dist, np.float64)
    pts = np.ascontiguousarray(uv, np.float64).reshape(-1, 1, 2)
    if intr.model == "fisheye":
        return cv2.fisheye.undistortPoints(pts, K, dist).reshape(-1, 2)
    return cv2.undistortPoints(pts, K, dist).reshape(-1, 2)


def _match(images_caps, P: np.ndarray, T: np.ndarray, intr: Intrinsics, gate_px: float):
    """Correspondences (wrist points, pixels) of blobs nearest to projected caps in front of the camera."""
    obj, img = [], []
    T_cw = np.linalg.inv(T)
    for (cent, _area), Pf in zip(images_caps, P):
        if not len(cent):
            continue
        z = (Pf @ T_cw[:3, :3].T + T_cw[:3, 3])[:, 2]
        uv = _project(Pf, T, intr)
        d = np.linalg.norm(uv[:, None, :] - cent[None, :, :], axis=2)  # caps × blobs
        for c in np.flatnonzero(z > 0.01):
            b = int(np.argmin(d[c]))
            # one-to-one: the blob's nearest cap must be this one, and no other cap nearly as close
            if d[c, b] > gate_px or int(np.argmin(d[:, b])) != c:
                continue
            others = np.delete(d[:, b], c)
            if len(others) and others.min() < 1.5 * d[c, b] + 2.0:
                continue
            obj.append(Pf[c])
            img.append(cent[b])
    return np.asarray(obj, np.float64).reshape(-1, 3), np.asarray(img, np.float64).reshape(-1, 2)


def _cap_model(exo: str):
    """The exoskeleton-as-worn model with every encoder cap in its own flat colour (red = 10·(k+1)) and every
    other part blue: a render tells each cap's visible pixels, occlusion included."""
    import re

    from dexumi.visual.models import exo_model

    hm = exo_model(exo)
    rgba = re.compile(r'rgba="[^"]*"')
    lines, k = [], 0
    for line in hm.body_xml:
        if "<geom" in line:
            if ':enc"' in line:
                k += 1
                line = rgba.sub(f'rgba="{10 * k / 255:.6f} 0 0 1"', line)
            else:
                line = rgba.sub('rgba="0 0 1 1"', line)
        lines.append(line)
    hm.body_xml = lines
    return hm, k


class _CapRenderer:
    """Predicted per-cap centroids and areas (px) at a mount, for frames at known joints."""

    def __init__(self, exo: str, intr: Intrinsics, names: list[str], joints: np.ndarray) -> None:
        from dexumi.visual.view import HandView

        hm, self.n = _cap_model(exo)
        self.view = HandView(hm, intr, np.eye(4))
        self.names, self.joints = names, np.asarray(joints, np.float64)
        h, w = intr.height, intr.width
        self.v, self.u = np.mgrid[0:h, 0:w].astype(np.float64)

    def predict(self, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centroids (F, C, 2), areas (F, C))."""
        self.view.set_mount(T)
        F, C = len(self.joints), self.n
        cent, area = np.full((F, C, 2), np.nan), np.zeros((F, C))
        for f, q in enumerate(self.joints):
            self.view.set_joints(dict(zip(self.names, q)))
            red = self.view.lens.nearest(np.ascontiguousarray(self.view.canvas()[..., 0]))
            lab = np.rint(red.astype(np.float64) / 10.0).astype(np.int64).ravel()
            a = np.bincount(lab, minlength=C + 1)[1 : C + 1]
            su = np.bincount(lab, self.u.ravel(), minlength=C + 1)[1 : C + 1]
            sv = np.bincount(lab, self.v.ravel(), minlength=C + 1)[1 : C + 1]
            ok = a > 0
            cent[f, ok, 0], cent[f, ok, 1] = su[ok] / a[ok], sv[ok] / a[ok]
            area[f] = a
        return cent, area

    def close(self) -> None:
        self.view.close()


def _perturb(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """T moved by p = (rotation vector in degrees, translation in mm), both in the camera frame."""
    D = np.eye(4)
    D[:3, :3] = rotvec_matrix(np.radians(p[:3]))
    D[:3, 3] = p[3:] * 1e-3
    return T @ D


def _refine_rendered(
    cr: _CapRenderer,
    blobs,
    T: np.ndarray,
    prior: np.ndarray,
    iterations: int = 12,
    prior_sigma: tuple[float, float] = (4.0, 3.0),
    prior_weight: float = 0.0,
):
    """Damped Gauss–Newton on the difference of rendered and observed cap centroids (finite differences), with
    the CAD prior as a weak regulariser (1 px of residual per `prior_sigma` = (mm, deg) away from it), which
    keeps directions the caps cannot see (few caps in view) at the prior."""
    steps = np.array([0.15, 0.15, 0.15, 0.3, 0.3, 0.3])
    sig = np.array([prior_sigma[1]] * 3 + [prior_sigma[0]] * 3)

    def from_prior(T):
        D = np.linalg.inv(prior) @ T
        return np.concatenate([np.degrees(matrix_rotvec(D[:3, :3])), D[:3, 3] * 1e3]) / sig

    def pairs(T):
        cent, area = cr.predict(T)
        out = []
        for f, (bc, ba) in enumerate(blobs):
            for c in range(cr.n):
                if area[f, c] < 6 or not len(bc):
                    continue
                d = np.linalg.norm(bc - cent[f, c], axis=1)
                b = int(np.argmin(d))
                if d[b] < 6.0 + 0.3 * np.sqrt(area[f, c]) and 0.6 < ba[b] / area[f, c] < 1.6:
                    out.append((f, c, b))
        return out

    def resid(T, sel):
        cent, _ = cr.predict(T)
        r = np.array([cent[f, c] - blobs[f][0][b] for f, c, b in sel]).reshape(-1)
        return np.concatenate([np.nan_to_num(r, nan=20.0), from_prior(T) * prior_weight])

    sel = pairs(T)
    for it in range(iterations):
        if len(sel) < 6:
            raise DexumiError(
                f"only {len(sel)} exoskeleton caps matched the rendered model; the mount cannot be "
                "refined (caps out of view or the prior far off)"
            )
        r0 = resid(T, sel)
        J = np.empty((len(r0), 6))
        for k in range(6):
            dp = np.zeros(6)
            dp[k] = steps[k]
            J[:, k] = (resid(_perturb(T, dp), sel) - resid(_perturb(T, -dp), sel)) / (2 * steps[k])
        H = J.T @ J
        delta = -np.linalg.solve(H + 1e-3 * np.diag(np.diag(H)) + 1e-9 * np.eye(6), J.T @ r0)
        T = _perturb(T, delta)
        log.info(
            "rendered refinement %d: %d caps, rms %.3f px, step %s",
            it,
            len(sel),
            float(np.sqrt(np.mean(r0**2))),
            np.round(delta, 3),
        )
        sel = pairs(T)
        if np.abs(delta[:3]).max() < 0.01 and np.abs(delta[3:]).max() < 0.02:
            break
    r = resid(T, sel)[:-6].reshape(-1, 2)
    return T, float(np.sqrt(np.mean(np.sum(r**2, axis=1)))), len(sel)


def calibrate_mount(
    images: list[np.ndarray],
    joints: np.ndarray,
    names: list[str],
    intr: Intrinsics,
    prior: np.ndarray,
    exo: str = "inspire_exo",
    min_points: int = 12,
) -> MountResult:
    """The camera's pose in the wrist frame from frames of the exoskeleton (BGR) at known joint angles."""
    if len(images) != len(joints):
        raise DexumiError(f"{len(images)} images but {len(joints)} joint rows")
    P = cap_positions(exo, names, joints)
    blobs = [detect_caps(im) for im in images]
    T = np.asarray(prior, np.float64).copy()
    gate = 0.06 * max(intr.width, intr.height)  # the prior may be a few mm / degrees off
    obj = img = np.zeros((0, 3))
    rv: np.ndarray  # Rodrigues rotation vector (3, 1) and translation (3, 1) of the camera pose, refined below
    tv: np.ndarray
    for it in range(8):
        obj, img = _match(blobs, P, T, intr, gate)
        if len(obj) < min_points:
            raise DexumiError(
                f"only {len(obj)} exoskeleton caps matched in {len(images)} frames (need "
                f"{min_points}): is the prior mount near, and are the caps in view?"
            )
        T_cw = np.linalg.inv(T)
        rv, tv = cv2.Rodrigues(T_cw[:3, :3])[0], T_cw[:3, 3].reshape(3, 1).copy()
        norm = _normalise(img, intr)
        rv, tv = cv2.solvePnPRefineLM(
            obj.reshape(-1, 1, 3),
            norm.reshape(-1, 1, 2),
            np.eye(3),
            np.zeros(5),
            rv,
            tv,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-12),
        )
        T_new: np.ndarray = np.eye(4)
        T_new[:3, :3] = cv2.Rodrigues(rv)[0]
        T_new[:3, 3] = tv.ravel()
        T_new = np.linalg.inv(T_new)
        step = pose_error(T, T_new)
        T = T_new
        gate = max(4.0, gate * 0.5)
        log.info("mount iteration %d: %d points, step %.3f mm / %.3f deg", it, len(obj), *step)
        if step[0] < 1e-3 and step[1] < 1e-3 and it >= 2:
            break
    far = pose_error(T, np.asarray(prior, np.float64))
    if far[0] > 20.0 or far[1] > 10.0:
        log.info("centroid PnP left the prior's neighbourhood (mismatched caps): refining from the prior")
        T = np.asarray(prior, np.float64).copy()
    # the caps' centres do not project onto their blobs' centroids (perspective, and parts of the hand hiding
    # parts of a cap): refine on the rendered caps' visible pixels, which model both
    cr = _CapRenderer(exo, intr, names, joints)
    try:
        T, rms, n = _refine_rendered(cr, blobs, T, np.asarray(prior, np.float64))
    finally:
        cr.close()
    mm, deg = pose_error(T, np.asarray(prior, np.float64))
    used = sum(1 for b in blobs if len(b[0]))
    return MountResult(T, rms, used, n, mm, deg)


__all__ = ["MountResult", "calibrate_mount", "cap_positions", "detect_caps", "matrix_rotvec", "rotvec_matrix"]
