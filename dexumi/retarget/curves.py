"""Per-joint maps from a calibrated exoskeleton angle to a robot joint angle, and their fitting.

Three kinds, all vectorised and serialisable to plain dicts (for the YAML/TOML map file):
``linear`` (robot = sign * scale * exo + offset), ``piecewise`` (monotonic knots, linear between them and
linearly extrapolated beyond), ``poly`` (robot = sum c_k exo^k, monotonic over its calibration domain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dexumi.errors import DexumiError


class Curve(Protocol):
    """exo angle (any shape) -> robot angle (same shape)."""

    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict: ...


@dataclass(frozen=True)
class LinearCurve:
    """robot = sign * scale * exo + offset."""

    scale: float = 1.0
    offset: float = 0.0
    sign: int = 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (self.sign * self.scale) * np.asarray(x, dtype=float) + self.offset

    def to_dict(self) -> dict:
        return {"sign": int(self.sign), "scale": float(self.scale), "offset": float(self.offset)}


@dataclass(frozen=True)
class PiecewiseCurve:
    """Strictly monotonic knots (x increasing, y monotonic); linear between, linear extrapolation beyond."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    _xa: np.ndarray = field(init=False, repr=False, compare=False)
    _ya: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        xa, ya = np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)
        if xa.ndim != 1 or xa.shape != ya.shape or xa.size < 2:
            raise DexumiError("piecewise curve needs x and y lists of equal length >= 2")
        if not np.all(np.isfinite(xa)) or not np.all(np.isfinite(ya)):
            raise DexumiError("piecewise curve has non-finite knots")
        if np.any(np.diff(xa) <= 0):
            raise DexumiError("piecewise curve x knots must be strictly increasing")
        dy = np.diff(ya)
        if not (np.all(dy >= 0) or np.all(dy <= 0)):
            raise DexumiError("piecewise curve y knots must be monotonic")
        object.__setattr__(self, "_xa", xa)
        object.__setattr__(self, "_ya", ya)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        xa, ya = self._xa, self._ya
        y = np.interp(x, xa, ya)
        lo_slope = (ya[1] - ya[0]) / (xa[1] - xa[0])
        hi_slope = (ya[-1] - ya[-2]) / (xa[-1] - xa[-2])
        y = np.where(x < xa[0], ya[0] + lo_slope * (x - xa[0]), y)
        return np.where(x > xa[-1], ya[-1] + hi_slope * (x - xa[-1]), y)

    def to_dict(self) -> dict:
        return {"piecewise": {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}}


@dataclass(frozen=True)
class PolyCurve:
    """robot = c0 + c1*x + c2*x^2 + ...; must be monotonic over ``domain`` (the calibration range)."""

    coeffs: tuple[float, ...]
    domain: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if len(self.coeffs) < 1 or not np.all(np.isfinite(self.coeffs)):
            raise DexumiError("poly curve needs at least one finite coefficient")
        if self.domain is not None:
            lo, hi = self.domain
            if not lo < hi:
                raise DexumiError("poly curve domain must be [low, high] with low < high")
            d = np.polynomial.polynomial.polyder(np.asarray(self.coeffs, dtype=float))
            dv = np.polynomial.polynomial.polyval(np.linspace(lo, hi, 257), d)
            if not (np.all(dv >= -1e-12) or np.all(dv <= 1e-12)):
                raise DexumiError(f"poly curve is not monotonic over its domain [{lo:g}, {hi:g}]")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(np.asarray(x, dtype=float), np.asarray(self.coeffs, dtype=float))

    def to_dict(self) -> dict:
        d: dict = {"poly": [float(c) for c in self.coeffs]}
        if self.domain is not None:
            d["domain"] = [float(self.domain[0]), float(self.domain[1])]
        return d


def _pav(y: np.ndarray, w: np.ndarray, increasing: bool) -> np.ndarray:
    """Weighted isotonic regression (pool adjacent violators)."""
    sgn = 1.0 if increasing else -1.0
    vals, wts, lens = [], [], []
    for v, wt in zip(sgn * y, w):
        vals.append(v)
        wts.append(wt)
        lens.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            wsum = wts[-2] + wts[-1]
            merged = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum
            n = lens[-2] + lens[-1]
            vals[-2:], wts[-2:], lens[-2:] = [merged], [wsum], [n]
    return sgn * np.repeat(vals, lens)


def _calibration_pairs(exo: np.ndarray, robot: np.ndarray, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(exo, dtype=float).ravel(), np.asarray(robot, dtype=float).ravel()
    if x.shape != y.shape:
        raise DexumiError(f"calibration pairs differ in length: {x.size} exo vs {y.size} robot values")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < min_points or np.ptp(x) <= 0:
        raise DexumiError(f"need at least {min_points} calibration pairs spanning a range of exo angles")
    return x, y


def fit_curve(exo: np.ndarray, robot: np.ndarray, kind: str = "linear", *, degree: int = 3, knots: int = 8) -> Curve:
    """Fit a monotonic curve robot = f(exo) from calibration pairs (radians).

    ``kind``: ``linear`` (least squares; sign taken from the slope), ``piecewise`` (``knots`` knots at
    quantiles of exo, least-squares values made monotonic by isotonic regression) or ``poly``
    (least squares of ``degree``; raises DexumiError if it is not monotonic over the data's range).
    """
    if kind == "linear":
        x, y = _calibration_pairs(exo, robot, 2)
        slope, offset = np.polyfit(x, y, 1)
        return LinearCurve(scale=float(abs(slope)), offset=float(offset), sign=1 if slope >= 0 else -1)
    if kind == "poly":
        x, y = _calibration_pairs(exo, robot, degree + 1)
        coeffs = np.polynomial.polynomial.polyfit(x, y, degree)
        try:
            return PolyCurve(tuple(float(c) for c in coeffs), (float(x.min()), float(x.max())))
        except DexumiError:
            raise DexumiError(
                f"fitted degree-{degree} polynomial is not monotonic over the calibration range: "
                "use a lower degree or kind 'piecewise'"
            ) from None
    if kind == "piecewise":
        x, y = _calibration_pairs(exo, robot, 2)
        k = int(max(2, min(knots, np.unique(x).size)))
        xs = np.unique(np.quantile(x, np.linspace(0.0, 1.0, k)))
        # hat-function basis: y ~ sum_j v_j * hat_j(x)  (exact piecewise-linear least squares)
        idx = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, xs.size - 2)
        t = (x - xs[idx]) / (xs[idx + 1] - xs[idx])
        a = np.zeros((x.size, xs.size))
        a[np.arange(x.size), idx] = 1.0 - t
        a[np.arange(x.size), idx + 1] += t
        v, *_ = np.linalg.lstsq(a, y, rcond=None)
        w = a.sum(axis=0) + 1e-9
        increasing = np.polyfit(x, y, 1)[0] >= 0
        v = _pav(v, w, increasing)
        return PiecewiseCurve(tuple(float(c) for c in xs), tuple(float(c) for c in v))
    raise DexumiError(f"unknown curve kind '{kind}' (linear, piecewise, poly)")
