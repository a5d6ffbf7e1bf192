"""`dexumi validate PATH...`: check episode files and folders; a table, optional JSON and PNG diagnostics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from apps.cli.per_episode import add_batch_args, batch_engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check episode files (schema, timing, drops, limits, images, numbering)",
        description="Validate episode files and folders. Exit status 0 only when every file passes "
        "(warnings pass unless --strict); 1 when a check fails; 2 for bad arguments.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="episode files or folders of episodes")
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the full report as JSON to FILE; `--json` or `--json -` prints it on stdout "
        "(the table then goes to stderr)",
    )
    p.add_argument("--plots", type=Path, metavar="DIR", help="write PNG diagnostics (rates, residuals, joints)")
    p.add_argument("--strict", "--warn-as-error", dest="strict", action="store_true", help="warnings fail too")
    p.add_argument("--config", type=Path, metavar="FILE", help="thresholds and severities (YAML or JSON)")
    p.add_argument(
        "--severity",
        action="append",
        default=[],
        metavar="CHECK=LEVEL",
        help="report a check's findings as off|warn|error (repeatable; CHECK may be 'all')",
    )
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: up to 2)")
    p.add_argument("--verbose-table", "-V", action="store_true", help="list every warning and error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_batch_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.validate import ValidateConfig, load_config, validate_paths
    from dexumi.validate.config import set_severity
    from dexumi.validate.report import table, to_json, write_json

    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        _check_report_path(Path(args.json), args.paths)
    cfg = load_config(args.config) if args.config else ValidateConfig()
    for spec in args.severity:
        set_severity(cfg, spec)
    progress = not args.no_progress and sys.stderr.isatty()
    with batch_engine(args, args.jobs) as engine:
        result = validate_paths(list(args.paths), cfg, args.plots, args.jobs, progress, engine, args.manifest)
    print(table(result, args.verbose_table), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        print(json.dumps(to_json(result, cfg, args.strict), default=str))
    elif args.json:
        write_json(args.json, to_json(result, cfg, args.strict))
    for p in result.problems:
        print(f"dexumi validate: error: {p}", file=sys.stderr)
    return 1 if result.failed(args.strict) else 0


def _check_report_path(path: Path, inputs: list[Path]) -> None:
    """Refuse a --json FILE that is an input, or an existing file that is not an earlier JSON report."""
    from dexumi.errors import DexumiError

    for src in inputs:
        try:
            if path.exists() and path.samefile(src):
                raise DexumiError(f"--json {path} is one of the files to validate; refusing to overwrite it")
        except OSError:
            pass
    if path.is_dir():
        raise DexumiError(f"--json {path} is a folder")
    if path.exists():
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError as exc:
            raise DexumiError(f"--json {path}: {exc.strerror or exc}") from None
        if not (head.lstrip().startswith(b"{") and b'"report_version"' in head):
            raise DexumiError(f"--json {path} exists and is not a validation report; refusing to overwrite it")
