"""Joint-angle files for `dexumi retarget` and the map fit: exoskeleton joints read from .npy, .csv or an HDF5
episode, robot joints written to .npy, .csv or .h5. (Above dexumi.episode, whose files it reads; dexumi.retarget,
below the episode file that stores its maps, does not import it.)"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexumi.errors import DexumiError

H5_JOINTS = "observations/exo_joints"
H5_TIME_CANDIDATES = ("observations/timestamps", "observations/exo_timestamps", "timestamps", "observations/time")


@dataclass(frozen=True)
class JointRecording:
    """(N, J) joint angles in radians, their channel names (None if the file has none), timestamps (s)."""

    values: np.ndarray
    names: tuple[str, ...] | None
    timestamps: np.ndarray | None
    source: str


def _read_csv(path: Path) -> JointRecording:
    text = path.read_text(encoding="utf-8", errors="replace")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DexumiError(f"{path}: empty CSV")
    names = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        names, rows = tuple(c.strip() for c in rows[0]), rows[1:]
    width = len(names) if names else len(rows[0]) if rows else 0
    values = np.empty((len(rows), width))
    for i, r in enumerate(rows):
        if len(r) != width:
            raise DexumiError(f"{path}:{i + 1 + (names is not None)}: {len(r)} columns, expected {width}")
        try:
            values[i] = [float(c) for c in r]
        except ValueError:
            raise DexumiError(f"{path}:{i + 1 + (names is not None)}: not a number in this row") from None
    times = None
    if names and names[0].lower() in ("t", "time", "timestamp", "timestamps"):
        times, values, names = values[:, 0].copy(), values[:, 1:], names[1:]
    return JointRecording(values, names, times, str(path))


def _read_h5(path: Path) -> JointRecording:
    from dexumi.episode.integrity import damage_as_error

    with damage_as_error(path, "damaged HDF5 file"):
        return _read_h5_checked(path)


def _read_h5_checked(path: Path) -> JointRecording:
    import h5py

    from dexumi.episode import schema as S
    from dexumi.episode.h5open import open_readonly
    from dexumi.episode.integrity import check_size, check_structure

    f = open_readonly(path)[0]
    with f:
        if S.A_FORMAT in f.attrs:  # one of our episodes: the shared checks (version, schema, sizes)
            check_structure(f, path, require_view=True)
        if H5_JOINTS not in f:
            raise DexumiError(f"{path}: no dataset '{H5_JOINTS}'")
        ds = f[H5_JOINTS]
        if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fiu":
            raise DexumiError(f"{path}: '{H5_JOINTS}' is not a numeric dataset")
        check_size(ds, path.stat().st_size, H5_JOINTS)
        values = np.asarray(ds[()], dtype=float)
        raw = ds.attrs.get("names")
        names = None if raw is None else tuple(n.decode() if isinstance(n, bytes) else str(n) for n in raw)
        times = None
        for key in H5_TIME_CANDIDATES:
            if key in f and isinstance(f[key], h5py.Dataset) and f[key].shape == (values.shape[0],):
                times = np.asarray(f[key][()], dtype=float)
                break
    return JointRecording(values, names, times, str(path))


def read_joints(path: str | Path) -> JointRecording:
    """Exoskeleton joint angles from .npy (N×J), .csv (optional header of names; a first column named
    't'/'time' is taken as timestamps) or HDF5 (dataset ``observations/exo_joints``, attr ``names``)."""
    p = Path(path)
    if not p.is_file():
        raise DexumiError(f"{p}: input file not found")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            rec = JointRecording(np.asarray(np.load(p, allow_pickle=False), dtype=float), None, None, str(p))
        except (ValueError, OSError) as exc:
            raise DexumiError(f"{p}: not a numeric .npy array: {' '.join(str(exc).split())[:120]}") from None
    elif suffix == ".csv":
        rec = _read_csv(p)
    elif suffix in (".h5", ".hdf5"):
        rec = _read_h5(p)
    else:
        raise DexumiError(
            f"{p}: unsupported input type '{suffix}' (expected .npy, .csv, .h5 of exoskeleton joint angles)"
        )
    if rec.values.ndim != 2:
        raise DexumiError(f"{p}: expected a 2-D array (frames x joints), got shape {rec.values.shape}")
    if rec.names is not None and len(rec.names) != rec.values.shape[1]:
        raise DexumiError(f"{p}: {len(rec.names)} names for {rec.values.shape[1]} columns")
    return rec


def select_channels(rec: JointRecording, channels: tuple[str, ...]) -> np.ndarray:
    """Columns in the map's channel order: by name when the file has names, else by count."""
    if rec.names is None:
        if rec.values.shape[1] != len(channels):
            raise DexumiError(
                f"{rec.source}: {rec.values.shape[1]} columns but the map lists {len(channels)} "
                f"channels ({', '.join(channels)})"
            )
        return rec.values
    missing = [c for c in channels if c not in rec.names]
    if missing:
        raise DexumiError(f"{rec.source}: no column named '{missing[0]}' (columns: {', '.join(rec.names)})")
    return rec.values[:, [rec.names.index(c) for c in channels]]


def write_joints(path: str | Path, q: np.ndarray, names: tuple[str, ...], timestamps: np.ndarray | None = None) -> None:
    """Robot joints to .npy (array only), .csv (header of names, optional 't' column) or .h5
    (dataset ``robot_joints`` with attr ``names``, plus ``timestamps``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        np.save(p, np.asarray(q, dtype=np.float64), allow_pickle=False)
    elif suffix == ".csv":
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow((["t"] if timestamps is not None else []) + list(names))
            for i, row in enumerate(q):
                w.writerow(
                    ([repr(float(timestamps[i]))] if timestamps is not None else []) + [repr(float(v)) for v in row]
                )
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(p, "w") as f:
            ds = f.create_dataset("robot_joints", data=np.asarray(q, dtype=np.float64))
            ds.attrs["names"] = list(names)
            if timestamps is not None:
                f.create_dataset("timestamps", data=np.asarray(timestamps, dtype=np.float64))
    else:
        raise DexumiError(f"{p}: unsupported output type '{suffix}' (.npy, .csv, .h5)")
