"""A one-dict summary of an episode (what `dexumi info` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.reader import Episode


def summarize(path: str | Path) -> dict[str, Any]:
    """The summary; DexumiError in one line for a damaged or foreign file."""
    from dexumi.episode.integrity import damage_as_error

    with damage_as_error(path):
        return _summarize(path)


def _summarize(path: str | Path) -> dict[str, Any]:
    with Episode.open(path) as ep:
        a = ep.attrs
        rep, stats = ep.sync_report, ep.stats
        enc_g = ep.f[S.ENCODER]
        n_enc = min(enc_g[k].shape[0] for k in S.ENCODER_FIELDS)
        clocks = rep.get("encoder", {}).get("clock") or {}
        last = clocks[sorted(clocks, key=int)[-1]] if clocks else None
        cams = {}
        for name in ep.cameras:
            r = rep.get("cameras", {}).get(name, {})
            g = ep.f[f"{S.CAMERAS}/{name}"]
            cams[name] = {
                "frames": int(g[S.FRAMES].shape[0]),
                "dropped": int(r.get("dropped", _drops(g["index"][:]))),
                "rate_hz": float(r.get("rate_hz", 0.0)),
                "width": int(g.attrs.get("width", 0)),
                "height": int(g.attrs.get("height", 0)),
                "latency_s": float(g.attrs.get("latency_s", 0.0)),
                "aligned_offset_ms_max": r.get("aligned_offset_ms_max"),
            }
        T = len(ep)
        enc_rep = rep.get("encoder", {})
        devices = {}  # further devices of a multi-device episode (/raw/<role>)
        for role, r in (rep.get("devices") or {}).items():
            last_d = r.get("clock") or {}
            last_d = last_d[sorted(last_d, key=int)[-1]] if last_d else None
            devices[role] = {
                "kind": r.get("kind", ""),
                "protocol": r.get("protocol", ""),
                "samples": int(r.get("samples", 0)),
                "rate_hz": float(r.get("rate_hz", 0.0)),
                "missing_samples": int(r.get("missing_samples", 0)),
                "gaps": len(r.get("gaps", [])),
                "segments": int(r.get("segments", 1)),
                "drift_ppm": round(last_d["drift_ppm"], 3) if last_d else None,
            }
        out = {
            "path": str(path),
            "format": a.get(S.A_FORMAT),
            "format_version": int(a.get(S.A_VERSION, 0)),
            "state": a.get(S.A_STATE),
            "finalized": ep.finalized,
            "episode_number": a.get(S.A_NUMBER),
            "created_utc": a.get(S.A_CREATED),
            "task": a.get(S.A_TASK, ""),
            "operator": a.get(S.A_OPERATOR, ""),
            "outcome": a.get(S.A_OUTCOME, "unknown"),
            "notes": a.get(S.A_NOTES, ""),
            "robot_hand": a.get(S.A_HAND, ""),
            "exoskeleton": a.get(S.A_EXO, ""),
            "nominal_fps": a.get(S.A_FPS),
            "software_version": a.get(S.A_SOFTWARE, ""),
            "calibration_profile_id": a.get(S.A_PROFILE, ""),
            "main_camera": a.get(S.A_MAIN_CAMERA, ""),
            "aligned_frames": T,
            "valid_frames": int(stats.get("valid_frames", T)),
            "duration_s": float(a.get(S.A_DURATION, stats.get("duration_s", 0.0)) or 0.0),
            "action_dim": int(ep.f[S.ACTION].shape[1]) if S.ACTION in ep.f else 0,
            "action_names": ep.action_names if S.ACTION in ep.f else [],
            "encoder": {
                "samples": int(n_enc),
                "rate_hz": float(enc_rep.get("rate_hz", 0.0)),
                "missing_samples": int(enc_rep.get("missing_samples", 0)),
                "gaps": len(enc_rep.get("gaps", [])),
                "segments": int(enc_rep.get("segments", 1)),
                "drift_ppm": round(last["drift_ppm"], 3) if last else None,
                "residual_ms": round(last["residual_ms"], 4) if last else None,
            },
            "cameras": cams,
            "samples": {"encoder": int(n_enc), **{k: v["frames"] for k, v in cams.items()}},
            "drops": {"encoder": int(enc_rep.get("missing_samples", 0)), **{k: v["dropped"] for k, v in cams.items()}},
            "stop_reason": a.get(S.A_STOP_REASON, ""),
            "file_mb": round(Path(path).stat().st_size / 2**20, 2),
        }
        if devices:
            out["encoder"]["role"] = str(enc_g.attrs.get("role", ""))
            out["devices"] = devices
            out["samples"].update({k: v["samples"] for k, v in devices.items()})
            out["drops"].update({k: v["missing_samples"] for k, v in devices.items()})
        return out


def _drops(index: np.ndarray) -> int:
    d = np.diff(index) - 1
    return int(d[d > 0].sum())
