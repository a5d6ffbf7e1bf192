"""Validating one episode file: open it (foreign and truncated files become one finding), run every check."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.validate import checks_content as C
from dexumi.validate import checks_devices as D
from dexumi.validate import checks_pose as P
from dexumi.validate import checks_schema as K
from dexumi.validate import checks_sync as Y
from dexumi.validate import checks_time as T
from dexumi.validate.config import EPISODE_CHECKS, ValidateConfig
from dexumi.validate.context import EpisodeData, load
from dexumi.validate.emit import emit
from dexumi.validate.result import EpisodeReport

log = logging.getLogger(__name__)


def _check_function(name: str) -> Callable[..., Any]:
    """`check_NAME` of the module that implements it."""
    found = [getattr(m, f"check_{name}") for m in (K, T, C, Y, P, D) if hasattr(m, f"check_{name}")]
    if len(found) != 1:
        raise RuntimeError(f"validation check {name!r}: {len(found)} implementations of check_{name}")
    return found[0]


CHECKS = [(name, _check_function(name)) for name in EPISODE_CHECKS]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


def open_file(path: Path) -> h5py.File:
    """Open read-only (SWMR for a file still being written); DexumiError in one line otherwise."""
    from dexumi.episode.integrity import check_structure
    from dexumi.episode.reader import open_h5

    f = open_h5(path)
    try:
        check_structure(f, path)  # a damaged or foreign file fails here, before any array is read
    except DexumiError:
        f.close()
        raise
    return f


def validate_file(
    path: str | Path, cfg: ValidateConfig | None = None, plots_dir: str | Path | None = None
) -> EpisodeReport:
    """Every check on one file; never raises for a bad file (the report says what is wrong)."""
    cfg = cfg or ValidateConfig()
    p = Path(path)
    r = EpisodeReport(str(p))
    try:
        r.metrics["file_mb"] = round(p.stat().st_size / 2**20, 3)
        f = open_file(p)
    except DexumiError as exc:
        msg = str(exc)
        emit(r, cfg, "schema", "error", msg if msg.startswith(str(p)) else f"{p}: {msg}")
        return r
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError/RuntimeError/KeyError on damaged files
        emit(r, cfg, "schema", "error", f"{p}: unreadable HDF5 ({_first_line(exc)})")
        return r
    try:
        try:
            d = load(f, p)
        except Exception as exc:  # noqa: BLE001 - see above
            emit(r, cfg, "schema", "error", f"unreadable ({_first_line(exc)})")
            return r
        for name, fn in CHECKS:
            if cfg.severity.get(name) == "off":
                continue
            try:
                fn(d, cfg, r)
            except Exception as exc:
                log.debug("check %s on %s failed", name, p, exc_info=True)
                emit(
                    r,
                    cfg,
                    name,
                    "error",
                    f"check failed on damaged data: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:120] if str(exc) else ''}",
                )
        r.metrics["episode_number"] = d.attrs.get(S.A_NUMBER)
        r.metrics["robot_hand"] = d.attrs.get(S.A_HAND, "")
        if plots_dir is not None:
            from dexumi.validate.plots import write_plots

            try:
                r.plots = [str(x) for x in write_plots(d, r, Path(plots_dir))]
            except Exception as exc:  # noqa: BLE001 - diagnostics are best effort
                log.warning("plots for %s failed: %s", p, exc)
    finally:
        f.close()
    return r


def episode_data(path: str | Path) -> tuple[h5py.File, EpisodeData]:
    """Open and load (for callers that want the arrays, e.g. replay markers); close the file when done."""
    p = Path(path)
    f = open_file(p)
    return f, load(f, p)
