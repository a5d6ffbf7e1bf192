"""`dexumi stream`: read an encoder board and report rate, errors, gaps, reconnects and clock drift."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream",
        help="stream an encoder board and report link health",
        description="Read the exoskeleton's encoder board and report frames, effective rate, "
        "CRC/checksum errors, gaps, reconnects, clock drift and residual.",
    )
    p.add_argument("--port", required=True, help="serial path, ble:NAME|ADDRESS, or 'sim' (starts the emulator)")
    p.add_argument("--protocol", choices=("auto", "v1", "legacy"), default="auto")
    p.add_argument("--channels", type=int, default=None, help="legacy boards: channel count (default: detect)")
    p.add_argument("--rate", type=float, default=None, help="v1: ask the device for this sample rate")
    p.add_argument(
        "--duration",
        "--seconds",
        dest="duration",
        type=float,
        default=10.0,
        help="seconds to stream (default 10; --seconds is the old name)",
    )
    p.add_argument("--profile", default=None, help="calibration profile to convert counts to angles")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    from dexumi.errors import DexumiError

    if args.duration <= 0:
        raise DexumiError("--duration must be positive")
    calibration = None
    if args.profile:
        from calibration.profile import load_profile

        calibration = load_profile(args.profile).encoder_calibration()
    # `--port sim[:options]`: the transport starts the emulator, speaking what the driver asks for
    driver = EncoderDriver(EncoderConfig(args.port, args.protocol, args.channels, args.rate, calibration))
    with driver:
        report = _stream(driver, args.duration, quiet=args.json)
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(report)
    return 0


def _stream(driver, seconds: float, quiet: bool) -> dict:
    start = time.monotonic()
    next_line = start + 1.0
    last_angles = None
    while (now := time.monotonic()) < start + seconds:
        for batch in driver.read(timeout=min(0.1, max(0.0, start + seconds - now))):
            last_angles = batch.angles[-1]
        if not quiet and now >= next_line:
            s = driver.stats()
            state = "connected" if s.connected else "LOST"
            print(
                f"{now - start:5.1f}s  {s.samples:8d} samples  {s.rate_hz:8.1f} Hz  crc {s.crc_errors}  "
                f"gaps {s.gaps}  reconnects {s.reconnects}  drift {s.drift_ppm:+7.1f} ppm  "
                f"residual {s.residual_ms:.3f} ms  {state}",
                flush=True,
            )
            next_line += 1.0
    s = driver.stats()
    info = driver.info
    return {
        "port": driver.config.port,
        "protocol": driver.protocol,
        "channels": driver.channels,
        "device_id": info.device_id if info else None,
        "frames": s.frames,
        "samples": s.samples,
        "rate_hz": round(s.rate_hz, 3),
        "nominal_rate_hz": s.nominal_rate_hz,
        "crc_errors": s.crc_errors,
        "resync_bytes": s.resync_bytes,
        "gaps": s.gaps,
        "missing_samples": s.missing_samples,
        "duplicates": s.duplicates,
        "out_of_order": s.out_of_order,
        "reconnects": s.reconnects,
        "device_resets": s.device_resets,
        "overflows": s.overflows,
        "device_errors": s.device_errors,
        "drift_ppm": round(s.drift_ppm, 3),
        "residual_ms": round(s.residual_ms, 4),
        "gap_events": [
            {"start": g.start, "end": g.end, "seconds": round(g.end - g.start, 4), "reason": g.reason}
            for g in s.gap_events
        ],
        "last_angles_deg": [round(float(a) * 57.29577951308232, 2) for a in last_angles]
        if last_angles is not None
        else [],
    }


def _print_report(r: dict) -> None:
    out = sys.stdout
    out.write(f"port {r['port']}  protocol {r['protocol']}  channels {r['channels']}  device {r['device_id']}\n")
    out.write(
        f"frames {r['frames']}  samples {r['samples']}  rate {r['rate_hz']:.1f} Hz (nominal {r['nominal_rate_hz']:g})\n"
    )
    out.write(
        f"crc/checksum errors {r['crc_errors']}  resync bytes {r['resync_bytes']}  gaps {r['gaps']} "
        f"({r['missing_samples']} samples)  duplicates {r['duplicates']}  out of order {r['out_of_order']}\n"
    )
    out.write(f"reconnects {r['reconnects']}  device resets {r['device_resets']}  overflows {r['overflows']}\n")
    out.write(f"clock drift {r['drift_ppm']:+.2f} ppm  residual {r['residual_ms']:.3f} ms\n")
