"""Stream health from status snapshots: one level per row and the reason, with the thresholds in one place.

Levels: ok (green), warn (amber: look when you can), bad (red: data is not being captured), off (grey).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

OK, WARN, BAD, OFF = "ok", "warn", "bad", "off"
RANK = {OFF: 0, OK: 0, WARN: 1, BAD: 2}


@dataclass(frozen=True)
class Thresholds:
    """When a colour changes (documented in docs/recorder.md)."""

    lost_age_s: float = 0.5  # no data for this long: device lost (red)
    rate_warn: float = 0.9  # effective rate below this fraction of nominal: amber
    rate_bad: float = 0.5  # ... below this: red
    drift_warn_ppm: float = 500.0
    residual_warn_ms: float = 2.0
    align_warn_frac: float = 0.5  # camera offset to the main camera above half a frame period
    recent_s: float = 10.0  # drops, CRC errors, reconnects stay amber this long after they happen
    range_margin_rad: float = 0.05  # joints outside the calibrated range by more than this: amber
    pose_valid_warn: float = 0.9  # pose samples tracking (not lost) in the last 2 s below this fraction: amber
    disk_warn_min: float = 15.0  # minutes of recording left
    disk_bad_min: float = 3.0


@dataclass
class RowHealth:
    """One row of the health table."""

    name: str
    level: str
    reason: str
    cells: dict[str, str] = field(default_factory=dict)


@dataclass
class CalibrationInfo:
    """The profile in use: its creation time (UTC) and per-channel ranges; None when there is no profile."""

    profile_id: str = ""
    created: datetime | None = None
    ranges: np.ndarray | None = None  # (C, 2) radians
    ranges_from: str = "profile"


CLOCKED = ("encoder", "tactile")  # stream kinds with a device clock fit (one row per device of a session)


def parse_created(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def pose_summary(h: dict) -> str:
    """`connected · 100 Hz · valid 98 % · last 12 ms ago · 3 tracking losses` from a PoseHealth dict."""
    age = h.get("age_s")
    age_text = (
        "no sample yet" if age is None else f"last {age * 1e3:.0f} ms ago" if age < 1 else f"last {age:.1f} s ago"
    )
    n = int(h.get("loss_events", 0))
    return (
        f"{'connected' if h.get('connected') else 'disconnected'} · {float(h.get('rate_hz', 0.0)):.0f} Hz · "
        f"valid {100 * (1 - float(h.get('lost_fraction', 0.0))):.0f} % · {age_text} · "
        f"{n} tracking loss{'' if n == 1 else 'es'}"
    )


def worst(levels: list[str]) -> str:
    return max(levels, key=lambda x: RANK[x], default=OK)


class HealthTracker:
    """Remembers what changed between snapshots (new drops, reconnect times) and rates each stream."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.th = thresholds or Thresholds()
        self._prev: dict[str, dict] = {}
        self._last_event: dict[str, tuple[float, str]] = {}  # stream → (monotonic time, what)
        self.last_reconnect_utc: datetime | None = None
        self._crc = 0

    def _event(self, name: str, what: str) -> None:
        self._last_event[name] = (time.monotonic(), what)

    def _recent(self, name: str) -> str | None:
        ev = self._last_event.get(name)
        return ev[1] if ev and time.monotonic() - ev[0] < self.th.recent_s else None

    def stream(self, s: dict, extra: dict) -> RowHealth:
        th = self.th
        name = s["name"]
        prev = self._prev.get(name)
        if prev is not None:
            if s["dropped"] > prev["dropped"]:
                self._event(name, f"{s['dropped'] - prev['dropped']} dropped")
            if s["reconnects"] > prev["reconnects"]:
                self._event(name, "reconnected")
                if s["kind"] == "encoder":
                    self.last_reconnect_utc = datetime.now(timezone.utc)
        if name == "encoder":  # the CRC count is the primary encoder's (further devices: drops and gaps)
            crc = int(extra.get("crc_errors", 0))
            if crc > self._crc:
                self._event(name, f"{crc - self._crc} CRC errors")
            self._crc = crc
        self._prev[name] = s
        age = s.get("last_data_age_s")
        nominal = s.get("nominal_rate_hz") or 0.0
        rate = s.get("rate_hz") or 0.0
        level, reason = OK, ""
        if not s["connected"] or age is None or age > th.lost_age_s:
            level, reason = BAD, "device lost" if not s["connected"] else f"no data for {age or 0:.1f} s"
        elif nominal and rate < th.rate_bad * nominal:
            level, reason = BAD, f"rate {rate:.0f}/{nominal:.0f} Hz"
        elif nominal and rate < th.rate_warn * nominal:
            level, reason = WARN, f"rate low {rate:.0f}/{nominal:.0f} Hz"
        elif self._recent(name):
            level, reason = WARN, str(self._recent(name))
        elif s["kind"] in CLOCKED and abs(s.get("drift_ppm", 0.0)) > th.drift_warn_ppm:
            level, reason = WARN, f"clock drift {s['drift_ppm']:.0f} ppm"
        elif s["kind"] in CLOCKED and s.get("residual_ms", 0.0) > th.residual_warn_ms:
            level, reason = WARN, f"clock residual {s['residual_ms']:.1f} ms"
        align = (extra.get("align_ms") or {}).get(name)
        if (
            level == OK
            and s["kind"] == "camera"
            and align is not None
            and nominal
            and align > th.align_warn_frac * 1e3 / nominal
        ):
            level, reason = WARN, f"offset to main camera {align:.0f} ms"
        lat = (extra.get("latency_s") or {}).get(name, 0.0)
        lost = level == BAD and (not s["connected"] or age is None or age > th.lost_age_s)
        cells = {
            "stream": name,
            "rate": "—" if lost else f"{rate:.0f} / {nominal:.0f} Hz" if nominal else f"{rate:.0f} Hz",
            "drops": str(s["dropped"]),
            "crc": str(extra.get("crc_errors", 0)) if name == "encoder" else "–",
            "reconnects": str(s["reconnects"]),
            "drift": f"{s.get('drift_ppm', 0.0):+.0f} ppm" if s["kind"] in CLOCKED else "–",
            "align": f"{align:.1f} ms" if align is not None else "–",
            "latency": f"{lat * 1e3:.0f} ms",
            "status": reason or "ok",
        }
        return RowHealth(name, level, reason, cells)

    def pose(self, s: dict, h: dict | None, extra: dict) -> RowHealth:
        """A pose source's row: the stream's rate, drops and reconnects, and a status line of its own —
        connected, rate, tracking-valid share of the last 2 s, last-sample age, tracking losses so far."""
        row = self.stream(s, extra)
        if h is None:  # a session without the pose health block (older session process)
            return row
        key = f"{s['name']}#loss"
        events = int(h.get("loss_events", 0))
        prev = self._prev.get(key)
        if prev is not None and events > prev["loss_events"]:
            self._event(key, f"tracking lost ({events - prev['loss_events']}×)")
        self._prev[key] = {"loss_events": events}
        valid = 1.0 - float(h.get("lost_fraction", 0.0))
        age = h.get("age_s")
        summary = pose_summary(h)
        if row.level == OK and h.get("state") == "lost":
            row.level, row.reason = WARN, "tracking lost"
        elif row.level == OK and valid < self.th.pose_valid_warn:
            row.level, row.reason = WARN, f"tracking valid {valid:.0%}"
        elif row.level == OK and self._recent(key):
            row.level, row.reason = WARN, str(self._recent(key))
        if age is None and row.level != BAD:
            row.level, row.reason = BAD, "no data"
        row.cells["status"] = f"{row.reason} — {summary}" if row.reason else summary
        return row

    def joints(self, latest: np.ndarray | None, names: list[str], cal: CalibrationInfo) -> RowHealth:
        """Exoskeleton joints inside the calibrated range?"""
        if cal.ranges is None:
            return RowHealth("joints", OFF, "", {"stream": "joints", "status": "no calibrated range (no profile)"})
        if latest is None or len(latest) != len(cal.ranges):
            return RowHealth("joints", OFF, "", {"stream": "joints", "status": "no data"})
        lo, hi = cal.ranges[:, 0] - self.th.range_margin_rad, cal.ranges[:, 1] + self.th.range_margin_rad
        out = [names[i] if i < len(names) else f"ch{i}" for i in np.flatnonzero((latest < lo) | (latest > hi))]
        reason = f"outside {cal.ranges_from} range: {', '.join(out)}" if out else ""
        return RowHealth(
            "joints",
            WARN if out else OK,
            reason,
            {"stream": "joints", "status": reason or f"inside the {cal.ranges_from} range"},
        )

    def calibration(self, cal: CalibrationInfo) -> RowHealth:
        """Profile missing, or made before the encoder's last reconnect (zero may have moved)."""
        if not cal.profile_id:
            return RowHealth(
                "calibration",
                WARN,
                "no calibration profile",
                {"stream": "calibration", "status": "no calibration profile (raw angles)"},
            )
        if cal.created and self.last_reconnect_utc and cal.created < self.last_reconnect_utc:
            return RowHealth(
                "calibration",
                WARN,
                "profile older than the device's last reconnect",
                {
                    "stream": "calibration",
                    "status": f"{cal.profile_id}: older than the last reconnect; run the zero check",
                },
            )
        return RowHealth("calibration", OK, "", {"stream": "calibration", "status": cal.profile_id})

    def disk(self, status: dict) -> RowHealth:
        extra = status.get("extra") or {}
        free = float(status.get("disk_free_mb", 0.0))
        usable = max(0.0, free - float(status.get("min_free_mb", 0.0)))
        rate = float(extra.get("data_mb_per_min") or 0.0)
        minutes = usable / rate if rate > 0 else float("inf")
        level = BAD if minutes < self.th.disk_bad_min else WARN if minutes < self.th.disk_warn_min else OK
        text = (
            f"{free / 1024:.1f} GB free, ~{minutes:.0f} min at {rate:.0f} MB/min"
            if np.isfinite(minutes)
            else f"{free / 1024:.1f} GB free"
        )
        return RowHealth("disk", level, text if level != OK else "", {"stream": "disk", "status": text})
