"""Entry point of the `dexumi` command: discovers subcommands and turns user errors into one line."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from apps.cli import commands
from firmware_bridge.errors import BridgeError

log = logging.getLogger("dexumi")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every module in `apps.cli.commands` registered."""
    from dexumi import __version__

    parser = argparse.ArgumentParser(
        prog="dexumi", description="Record, calibrate, replay and export exoskeleton demonstrations."
    )
    parser.add_argument("--version", action="version", version=f"dexumi {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from apps.pyside_fix import immortalize_singletons

    immortalize_singletons()  # before any Qt app runs: see apps/pyside_fix.py
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except BridgeError as exc:  # includes DexumiError: the user can act on these
        print(f"dexumi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dexumi {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback unless asked
        if args.debug:
            raise
        print(f"dexumi {args.command}: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
