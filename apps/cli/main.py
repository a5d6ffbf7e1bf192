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
    _global_flags(parser, "")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    for sp in sub.choices.values():  # the same flags after the subcommand (`dexumi hands -v`)
        _global_flags(sp, "_sub")
    return parser


def _global_flags(p: argparse.ArgumentParser, suffix: str) -> None:
    """-v/--verbose, -q/--quiet, --debug: before or after the subcommand (kept apart, combined by log_level)."""
    g = p.add_argument_group("global options")
    g.add_argument(
        "-v", "--verbose", dest=f"verbose{suffix}", action="count", default=0, help="more log output (-vv: debug)"
    )
    g.add_argument("-q", "--quiet", dest=f"quiet{suffix}", action="store_true", help="errors only, no warnings")
    g.add_argument(
        "--debug", dest=f"debug{suffix}", action="store_true", help="show full tracebacks of unexpected errors"
    )


def log_level(args: argparse.Namespace) -> int:
    """The logging level the global flags ask for, wherever they were given."""
    if getattr(args, "quiet", False) or getattr(args, "quiet_sub", False):
        return logging.ERROR
    verbosity = getattr(args, "verbose", 0) + getattr(args, "verbose_sub", 0)
    return logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from apps.pyside_fix import immortalize_singletons

    immortalize_singletons()  # before any Qt app runs: see apps/pyside_fix.py
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(log_level(args))
    args.debug = bool(getattr(args, "debug", False) or getattr(args, "debug_sub", False))
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
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"dexumi {args.command}: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
