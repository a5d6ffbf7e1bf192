"""`dexumi record`: the recorder (Qt app), or `--headless`: record N episodes of S seconds from the CLI."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record episodes (the recorder app, or --headless)",
        description="Record demonstration episodes into a folder, one crash-safe HDF5 file each "
        "(episode_0001.h5, ...). Without --headless this opens the recorder app.",
    )
    p.add_argument("--headless", action="store_true", help="record from the command line, no GUI")
    p.add_argument("--out", required=True, type=Path, help="folder of the day's episodes (created if missing)")
    p.add_argument("--sim", action="store_true", help="simulated exoskeleton + two simulated wrist cameras")
    p.add_argument("--port", default=None, help="encoder port: /dev/ttyACM0, /dev/serial/by-id/..., ble:NAME, sim")
    p.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="SPEC",
        help="camera: 0, /dev/video2, sim[:k=v,...], file:PATH (repeat for more; the first is the main one)",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="how many episodes to record (headless default 1; the window auto-advances)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds per episode (headless default 10; the window stops each episode after it)",
    )
    p.add_argument("--task", default="", help="task description stored in each episode")
    p.add_argument("--operator", default="", help="who is recording")
    p.add_argument("--outcome", choices=("success", "failure", "unknown"), default="unknown")
    p.add_argument("--notes", default="")
    p.add_argument("--profile", type=Path, default=None, help="calibration profile (YAML)")
    p.add_argument(
        "--hand",
        default=None,
        help="robot hand (bundled: inspire_like, xhand_like; from example-robot-data: allegro_right, allegro_left)",
    )
    p.add_argument("--map", type=Path, default=None, help="retargeting map file (default: the hand's bundled map)")
    p.add_argument("--protocol", choices=("auto", "v1", "legacy"), default="auto")
    p.add_argument("--rate", type=float, default=None, help="v1 encoder: ask for this sample rate")
    p.add_argument("--channels", type=int, default=6, help="--sim: emulator joint channels (6 inspire, 12 xhand)")
    p.add_argument(
        "--sim-seed",
        "--seed",
        dest="sim_seed",
        type=int,
        default=0,
        help="--sim: emulator and camera seed (--seed is the old name)",
    )
    p.add_argument("--min-free-mb", type=float, default=200.0, help="stop recording below this free disk space")
    p.add_argument("--pause", type=float, default=0.0, help="seconds between episodes")
    p.add_argument("--json", action="store_true", help="print one JSON object per finished episode")
    p.add_argument(
        "--control",
        default=None,
        metavar="HOST:PORT",
        help="remote start/stop/outcome/notes/status over TCP (e.g. 127.0.0.1:22345); --headless: wait "
        "for those instead of recording --episodes; the window: its session process serves them",
    )
    p.add_argument("--token", default=None, help="--control: every request must carry this token")
    p.add_argument(
        "--allow-remote", action="store_true", help="--control: allow binding beyond loopback (needs --token)"
    )
    p.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="STREAM",
        help="a recording does not start while this stream (encoder, wrist0, lsl:NAME) is missing",
    )
    p.add_argument(
        "--lsl",
        action="append",
        default=[],
        metavar="lsl:NAME",
        help="record an LSL stream as an extra stream (repeatable)",
    )
    p.add_argument(
        "--pose",
        action="append",
        default=[],
        metavar="SPEC",
        help="record a wrist-pose source: pose:sim[:k=v,...], pose:udp:PORT, pose:lsl:NAME, "
        "pose:board:CAMERA (tracks the session's camera CAMERA) (repeatable; docs/pose.md)",
    )
    p.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="ROLE=PORT[,k=v]",
        help="one device of several by role: exo_right, exo_left, tactile_right, ... with "
        "protocol=, map=, hand=, profile=, rate= (repeatable; docs/recording.md, 'Several devices')",
    )
    p.add_argument(
        "--device-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the session's devices from a YAML file (devices: [{role, port, protocol, map, ...}])",
    )
    p.add_argument(
        "--sim-devices",
        action="append",
        default=[],
        metavar="ROLE[:PROTOCOL],...",
        help="--sim: simulate these devices, e.g. exo_right,exo_left,tactile_right (tactile: xhand-tactile or fsr)",
    )
    p.add_argument(
        "--sim-tactile-rate",
        type=float,
        default=100.0,
        metavar="HZ",
        help="--sim: frame rate of simulated tactile boards",
    )
    p.add_argument(
        "--lsl-outlets",
        action="store_true",
        help="publish encoder samples, camera frame indices and episode markers as LSL outlets",
    )
    p.add_argument("--reset", type=float, default=None, metavar="S", help="recorder: reset timer between episodes")
    p.add_argument("--tasks", type=Path, default=None, metavar="FILE", help="recorder: task list with targets (YAML)")
    p.add_argument(
        "--keys",
        type=Path,
        default=None,
        metavar="FILE",
        help="recorder settings (keys, pacing, sound; TOML; default ~/.config/dexumi/recorder.toml)",
    )
    p.add_argument("--mute", action="store_true", help="recorder: no sound cues")
    p.add_argument(
        "--rerun",
        nargs="?",
        const="",
        default=None,
        metavar="FILE.rrd",
        help="recorder: stream the live session to a rerun viewer (or save it to FILE.rrd)",
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="PNG",
        help="recorder app: save the window as a PNG after a few seconds of live data, then exit",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError

    if getattr(args, "episodes", None) is not None and args.episodes < 1:
        raise DexumiError("--episodes must be at least 1")
    if getattr(args, "duration", None) is not None and args.duration <= 0:
        raise DexumiError("--duration must be positive")
    if not args.headless:
        if importlib.util.find_spec("apps.recorder.main") is None:
            raise DexumiError("the recorder app is not available in this installation; use --headless")
        from apps.recorder.main import run as run_gui

        return int(run_gui(args) or 0)
    rerun = getattr(args, "rerun", None)
    if rerun is not None:
        if not rerun:
            raise DexumiError(
                "--headless --rerun needs a FILE.rrd to save to (no window to spawn a viewer beside); "
                "or `dexumi view DIR --rerun` afterwards"
            )
        if Path(rerun).suffix != ".rrd":
            raise DexumiError(f"--rerun {rerun}: the file must end in .rrd")
        if not Path(rerun).expanduser().resolve().parent.is_dir():
            raise DexumiError(f"--rerun {rerun}: no such folder {Path(rerun).parent}")
        if importlib.util.find_spec("rerun") is None:
            raise DexumiError("--rerun needs rerun-sdk (pip install rerun-sdk)")
    args.episodes = 1 if args.episodes is None else args.episodes
    args.duration = 10.0 if args.duration is None else args.duration
    if (
        not args.sim
        and not args.port
        and not any(d.startswith("exo") for d in getattr(args, "device", []) or [])
        and getattr(args, "device_file", None) is None
    ):
        raise DexumiError("give --port PORT (and --camera SPEC ...), or --sim")
    cfg = _config(args)
    from dexumi.session.device_set import plan_devices

    plan_devices(cfg)  # grammar errors before any device is started (one line, exit 2)
    from dexumi.devices.pose import make_pose

    for spec in cfg.pose_sources:  # grammar errors before any device is started (one line, exit 2)
        make_pose(spec)
    return _record(cfg, args)


def _config(args: argparse.Namespace):
    from dexumi.session.config import SessionConfig
    from firmware_bridge.transports import is_sim_port

    cfg = SessionConfig(
        out_dir=args.out,
        port=None if args.sim else args.port,
        cameras=list(args.camera),
        sim=bool(args.sim) or is_sim_port(args.port),
        sim_channels=args.channels,
        sim_seed=args.sim_seed,
        protocol=args.protocol,
        encoder_rate_hz=args.rate,
        hand=args.hand,
        map_path=args.map,
        task=args.task,
        operator=args.operator,
        min_free_mb=args.min_free_mb,
        required_streams=list(getattr(args, "require", []) or []),
        lsl_streams=list(getattr(args, "lsl", []) or []),
        lsl_outlets=bool(getattr(args, "lsl_outlets", False)),
        pose_sources=list(getattr(args, "pose", []) or []),
        devices=[*_device_file(getattr(args, "device_file", None)), *(getattr(args, "device", []) or [])],
        sim_devices=list(getattr(args, "sim_devices", []) or []),
        sim_tactile_rate_hz=float(getattr(args, "sim_tactile_rate", 100.0) or 100.0),
    )
    if args.profile is not None:
        cfg.apply_profile(args.profile)
    from dexumi.session.device_set import apply_device_profiles

    return apply_device_profiles(cfg)  # after the profile: its latencies do not replace the devices'


def _device_file(path: Path | None) -> list[str]:
    from dexumi.session.device_set import device_file_specs

    return device_file_specs(path)


def _record(cfg, args: argparse.Namespace) -> int:

    from dexumi.errors import DexumiError
    from dexumi.session.session import RecordingSession

    stop = threading.Event()
    old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    session = RecordingSession(cfg)
    live = None
    try:
        session.open()
        if getattr(args, "rerun", None):  # the live view saved to an .rrd, off the capture path
            from apps.recorder.rerun_headless import HeadlessRerun

            live = HeadlessRerun(session, Path(args.rerun).expanduser())
        for r in session.recovered:
            print(f"{r.action} {r.source.name} -> {r.path.name if r.path else '-'} ({r.message})", file=sys.stderr)
        if args.control:
            return _remote(session, args, stop)
        for k in range(args.episodes):
            if stop.is_set():
                break
            number = session.start_episode(notes=args.notes)
            end = time.monotonic() + args.duration
            while not stop.is_set() and not session.episode_ended.is_set() and time.monotonic() < end:
                stop.wait(min(0.05, max(0.0, end - time.monotonic())))
            if session.fatal:
                raise DexumiError(session.fatal)
            if session.recording:
                path = session.stop_episode(args.outcome, args.notes, "interrupted" if stop.is_set() else "duration")
            else:
                path = session.last_episode
            _report(session, number, path, args.json)
            if args.pause and k + 1 < args.episodes:
                stop.wait(args.pause)
        if session.fatal:
            raise DexumiError(session.fatal)
    finally:
        if live is not None:
            live.close()
            print(
                f"dexumi record: rerun {args.rerun}: {live.logged['rows']} joint rows, {live.logged['frames']} "
                f"camera frames ({live.logged['dropped']} dropped when rerun was slow)",
                file=sys.stderr,
            )
        session.close()
        for s, h in old.items():
            signal.signal(s, h)
    if stop.is_set():
        print("dexumi record: stopped by signal; the last episode was finalised", file=sys.stderr)
    return 0


def _remote(session, args: argparse.Namespace, stop: threading.Event) -> int:
    """Serve remote control until SIGINT/SIGTERM (a running episode is then finalised by close())."""
    from dexumi.session.server import Server
    from dexumi.session.tcp import TcpControl, parse_address

    server = Server(sys.stdout)
    server.session = session
    host, port = parse_address(args.control)
    ctl = TcpControl(server.handle, host, port, args.token, args.allow_remote).start()
    h, p = ctl.address
    print(f"dexumi record: remote control on {h}:{p}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.2):
            if session.fatal:
                break
    finally:
        ctl.close()
    return 0


def _report(session, number: int, path, as_json: bool) -> None:
    import json

    st = session.status()
    if as_json:
        print(json.dumps({"episode": number, "path": str(path), "status": st.to_json()}), flush=True)
    else:
        streams = "  ".join(f"{s.name} {s.rate_hz:.0f} Hz drops {s.episode_dropped}" for s in st.streams)
        print(f"episode {number:4d}  {path}  ({streams})", flush=True)
        for line in st.quality:
            print(f"  {line}", flush=True)
