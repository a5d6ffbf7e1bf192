"""`dexumi sim-device`: run the encoder-board emulator on a pseudo-terminal (prints its path first)."""

from __future__ import annotations

import argparse

from dexumi.errors import DexumiError


def register(sub: argparse._SubParsersAction) -> None:
    from firmware_bridge.emulator.cli import DESCRIPTION, add_arguments

    p = sub.add_parser("sim-device", help="emulate an encoder board on a pseudo-terminal", description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.emulator.cli import config_from_args
    from firmware_bridge.emulator.device import run_emulator

    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        raise DexumiError(str(exc)) from None
    run_emulator(cfg)
    return 0
