"""Command-line options of the emulator, shared by `dexumi sim-device` and `python -m firmware_bridge.emulator`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from firmware_bridge.emulator.device import EmulatorConfig, run_emulator

DESCRIPTION = (
    "Emulate the exoskeleton's encoder board in this process, on a pseudo-terminal. The first line on "
    "stdout is the port's stable path; pass it to --port. Runs until interrupted or --duration."
)


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The emulator's options."""
    p.add_argument(
        "--protocol",
        choices=("v1", "legacy", "fsr", "xhand-tactile"),
        default="v1",
        help="fsr, xhand-tactile: a tactile board whose forces follow the grasp contact (truth log: 'angles' = fingertip forces in N)",
    )
    p.add_argument("--channels", type=int, default=16, help="ADC channels (legacy: joints + 2)")
    p.add_argument("--rate", type=float, default=1000.0, help="samples per second per channel")
    p.add_argument("--batch", type=int, default=None, help="samples per v1 frame (default: ~500 frames/s)")
    p.add_argument(
        "--seed",
        "--sim-seed",
        dest="seed",
        type=int,
        default=0,
        help="makes motion, noise and faults reproducible (--sim-seed: the name record/calibrate use)",
    )
    p.add_argument(
        "--motion",
        default="grasp",
        help="'grasp' (default; 'grasp:lower=a/b/..;upper=c/d/..' keeps each joint in a range), "
        "'keypoints:PATH.npy' or 'calibration[:...]'",
    )
    p.add_argument("--drift-ppm", type=float, default=0.0, help="device clock error in ppm (+: runs fast)")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="random delay of each frame, 0..J ms")
    p.add_argument("--corrupt", type=float, default=0.0, metavar="P", help="probability of corrupting each byte")
    p.add_argument("--drop", type=float, default=0.0, metavar="P", help="probability of losing each frame")
    p.add_argument("--disconnect-after", type=float, default=None, metavar="S", help="unplug after S seconds")
    p.add_argument("--reconnect-after", type=float, default=None, metavar="S", help="re-plug S seconds later")
    p.add_argument(
        "--keep-counters",
        action="store_true",
        help="do not reset counters and clock on re-plug (a board that stayed powered)",
    )
    p.add_argument("--autostart", action="store_true", help="v1: stream without waiting for START")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="exit after S seconds")
    p.add_argument("--clock-start-us", type=int, default=None, help="device clock at power-on (test wraps)")
    p.add_argument("--noise-counts", type=float, default=2.0, help="ADC noise (standard deviation, counts)")
    p.add_argument("--sensor-offset-deg", type=_floats, default=None, help="per joint, comma-separated")
    p.add_argument("--sensor-sign", type=_floats, default=None, help="per joint, +1/-1, comma-separated")
    p.add_argument("--sensor-gain", type=_floats, default=None, help="per joint, comma-separated")
    p.add_argument(
        "--truth",
        "--log",
        dest="truth",
        type=Path,
        default=None,
        help="write the ground-truth log of every sample and what became of it",
    )
    p.add_argument("--link", type=Path, default=None, help="publish the port under this path (a symlink)")
    p.add_argument("--device-id", default="SIM-0001")
    p.add_argument(
        "--motion-epoch",
        type=float,
        default=None,
        help="host monotonic time at which the motion starts (lets sim cameras show the same motion)",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration the options describe; raises ValueError with a one-line reason if inconsistent."""
    cfg = EmulatorConfig(
        protocol=args.protocol,
        channels=args.channels,
        rate_hz=args.rate,
        batch=args.batch,
        seed=args.seed,
        drift_ppm=args.drift_ppm,
        jitter_ms=args.jitter_ms,
        corrupt=args.corrupt,
        drop=args.drop,
        disconnect_after=args.disconnect_after,
        reconnect_after=args.reconnect_after,
        duration=args.duration,
        motion=args.motion,
        truth_path=args.truth,
        link_path=args.link,
        reset_on_reconnect=not args.keep_counters,
        autostart=args.autostart,
        clock_start_us=args.clock_start_us,
        noise_counts=args.noise_counts,
        sensor_offset_rad=[math.radians(x) for x in args.sensor_offset_deg or []],
        sensor_sign=[int(x) for x in args.sensor_sign or []],
        sensor_gain=args.sensor_gain or [],
        device_id=args.device_id,
        motion_epoch=args.motion_epoch,
    )
    cfg.validate()
    if args.link is not None and not args.link.parent.is_dir():
        raise ValueError(f"--link: folder {args.link.parent} does not exist")
    from firmware_bridge.emulator.link import check_link_path
    from firmware_bridge.emulator.truth import check_truth_path

    if args.truth is not None:
        check_truth_path(args.truth)
    if args.link is not None:
        check_link_path(args.link)
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_bridge.emulator", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"sim-device: error: {exc}", file=sys.stderr)
        return 2
    run_emulator(cfg)
    return 0


__all__ = ["DESCRIPTION", "add_arguments", "config_from_args", "main"]
