"""`dexumi calibrate-mount EPISODE --out PROFILE`: camera ↔ exoskeleton extrinsics from a recorded episode."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate-mount",
        help="find where each wrist camera sits on the exoskeleton",
        description="Refine each wrist camera's mount (camera ↔ exoskeleton extrinsics) from the CAD "
        "prior in the profile, using the exoskeleton's encoder caps seen in an episode's frames at the "
        "recorded joint angles; writes a profile with the calibrated `camera_mounts` section.",
    )
    p.add_argument("episode", type=Path, help="an episode whose frames show the exoskeleton moving")
    p.add_argument("--out", required=True, type=Path, help="the profile to write")
    p.add_argument("--profile", type=Path, help="the profile to start from (default: the episode's own)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable; default: every camera)")
    p.add_argument("--frames", type=int, default=16, help="frames used, spread over the episode (default 16)")
    p.add_argument("--exo", help="exoskeleton model (default: the episode's)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from calibration.mount import calibrate_mount
    from calibration.profile import load_profile, profile_from_dict, save_profile
    from dexumi.episode import schema as S
    from dexumi.episode.reader import Episode
    from dexumi.errors import DexumiError
    from dexumi.safe_yaml import safe_load
    from dexumi.visual.bridge import frame_joints
    from dexumi.visual.mount import intrinsics_from_dict

    if not 4 <= args.frames <= 200:
        raise DexumiError(f"--frames must be 4..200, not {args.frames}")
    with Episode.open(args.episode) as ep:
        if args.profile is not None:
            prof = load_profile(args.profile)
        else:
            text = ep.text(S.CALIBRATION_PROFILE)
            if not text.strip():
                raise DexumiError(f"{args.episode}: no calibration profile inside; give --profile FILE")
            prof = profile_from_dict(safe_load(text, f"{args.episode}: meta/calibration_profile"))
        exo = args.exo or str(ep.attrs.get("exoskeleton") or "") or "inspire_exo"
        names = [str(x) for x in ep.f[S.EXO_JOINTS].attrs.get("names", [])]
        for cam in args.camera or ep.cameras:
            if cam not in ep.cameras:
                raise DexumiError(f"{args.episode}: no camera '{cam}' (cameras: {', '.join(ep.cameras)})")
            if cam not in prof.camera_mounts:
                raise DexumiError(
                    f"camera {cam}: the profile has no prior mount (camera_mounts.{cam}, e.g. the "
                    "CAD design's, method: cad) to refine"
                )
            if cam not in prof.cameras:
                raise DexumiError(
                    f"camera {cam}: the profile has no intrinsics (cameras.{cam}); calibrate the camera first"
                )
            from dataclasses import asdict

            intr = intrinsics_from_dict(cam, asdict(prof.cameras[cam]))
            g = ep.f[f"{S.CAMERAS}/{cam}"]
            intr = intr.scaled(int(g.attrs.get("width", intr.width)), int(g.attrs.get("height", intr.height)))
            raw, exo_q, _ = frame_joints(ep, cam)
            pick = np.unique(np.linspace(0, len(raw) - 1, min(args.frames, len(raw))).round().astype(int))
            images = [ep.raw_image(cam, int(raw[k])) for k in pick]
            res = calibrate_mount(images, exo_q[pick], names, intr, prof.camera_mounts[cam].matrix(), exo)
            prof.camera_mounts[cam] = res.mount()
            print(
                f"{cam}: {res.points} caps in {res.frames} frames, residual {res.residual_px:.2f} px; moved "
                f"{res.prior_shift_mm:.1f} mm / {res.prior_shift_deg:.2f} deg from the prior"
            )
    save_profile(prof, args.out, overwrite=args.force)
    print(f"wrote {args.out}")
    return 0
