"""Validating one episode file: open it (foreign and truncated files become one finding), run every check."""

from __future__ import annotations

import logging
from pathlib import Path

import h5py

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.validate import checks_content as C
from dexumi.validate import checks_devices as D
from dexumi.validate import checks_pose as P
from dexumi.validate import checks_schema as K
from dexumi.validate import checks_sync as Y
from dexumi.validate import checks_time as T
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData, load
from dexumi.validate.emit import emit
from dexumi.validate.result import EpisodeReport

log = logging.getLogger(__name__)

CHECKS = [("schema", K.check_schema), ("length", K.check_length), ("finite", K.check_finite),
          ("timestamps", T.check_timestamps), ("rates", T.check_rates), ("gaps", T.check_gaps),
          ("drops", T.check_drops), ("sequence", T.check_sequence), ("alignment", T.check_alignment),
          ("joint_limits", C.check_joint_limits), ("fingertips", C.check_fingertips), ("images", C.check_images),
          ("latency_drift", Y.check_latency_drift), ("pose", P.check_pose), ("devices", D.check_devices)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:120] if text else type(exc).__name__)


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


def validate_file(path: str | Path, cfg: ValidateConfig | None = None, plots_dir: str | Path | None = None
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
            except Exception as exc:  # noqa: BLE001 - a damaged file must still get a report
                log.debug("check %s on %s failed", name, p, exc_info=True)
                emit(r, cfg, name, "error", f"check failed on damaged data: {type(exc).__name__}: "
                     f"{str(exc).splitlines()[0][:120] if str(exc) else ''}")
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
