"""The reader-level schema check: is this open file an episode every reader can walk in bounded work?

Run by every episode reader (`Episode`, `dexumi info`, `validate`, `recover`, `retarget`, export, replay)
before it reads arrays. It checks what the readers rely on — every required dataset present with the right
kind of dtype and rank, consistent widths and lengths — and that no dataset claims more rows than the file
can hold (a file claiming 1e12 frames is refused before anything is allocated or iterated). The first
problem becomes one `DexumiError` line naming the dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.vocab import EpisodeState

MAX_ROWS = 1 << 31  # no stream of ours comes near this (2e9 rows = 2 days of 10 kHz encoder samples)
VLEN_ROW_BYTES = 16  # a variable-length element costs at least its 16-byte heap reference on disk
SLACK_BYTES = 1 << 20  # unwritten chunk space a file may still have reserved
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError)
T = TypeVar("T")


def _first(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:140] if text else type(exc).__name__


@contextmanager
def damage_as_error(path: str | Path, what: str = "damaged episode file") -> Iterator[None]:
    """Turn what h5py raises on damaged data into one DexumiError line (DexumiError passes through)."""
    try:
        yield
    except DexumiError:
        raise
    except MemoryError:
        raise DexumiError(f"{path}: {what}: a dataset is larger than memory") from None
    except H5_ERRORS as exc:
        raise DexumiError(f"{path}: {what} ({_first(exc)})") from None


def guarded(path: str | Path, fn: Callable[[], T], what: str = "damaged episode file") -> T:
    with damage_as_error(path, what):
        return fn()


def _row_bytes(ds: h5py.Dataset) -> int:
    width = int(np.prod(ds.shape[1:], dtype=np.int64)) if ds.ndim > 1 else 1
    item = (
        VLEN_ROW_BYTES
        if h5py.check_vlen_dtype(ds.dtype) is not None or ds.dtype.kind == "O"
        else max(1, ds.dtype.itemsize)
    )
    return max(1, width) * item


def check_size(ds: h5py.Dataset, file_bytes: int, name: str) -> None:
    """Refuse a dataset whose declared rows cannot be stored in a file of `file_bytes`."""
    shape = ds.shape or ()
    rows = int(shape[0]) if shape else 1
    if rows > MAX_ROWS:
        raise DexumiError(f"/{name} claims {rows} rows (more than {MAX_ROWS}): a damaged or foreign file")
    need = rows * _row_bytes(ds)
    chunk = ds.chunks
    chunk_bytes = int(np.prod(chunk, dtype=np.int64)) * max(1, ds.dtype.itemsize) if chunk else 0
    if ds.compression is None and need > file_bytes + chunk_bytes + SLACK_BYTES:
        raise DexumiError(
            f"/{name} claims {rows} rows ({need / 2**20:.0f} MB) but the file holds only "
            f"{file_bytes / 2**20:.1f} MB: a damaged or foreign file"
        )


def _dataset(f: h5py.File, name: str, kinds: str, ndim: int, file_bytes: int) -> h5py.Dataset:
    if name not in f:
        raise DexumiError(f"/{name} is missing")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise DexumiError(f"/{name} is a {type(ds).__name__}, not a dataset")
    kind = "v" if (h5py.check_vlen_dtype(ds.dtype) is not None or ds.dtype.kind == "O") else ds.dtype.kind
    if kind not in kinds:
        raise DexumiError(f"/{name} has dtype {ds.dtype} (expected {_kinds(kinds)})")
    if ds.ndim != ndim:
        raise DexumiError(f"/{name} has shape {ds.shape} (expected {ndim}-D)")
    check_size(ds, file_bytes, name)
    return ds


def _kinds(kinds: str) -> str:
    names = {"f": "float", "i": "integer", "u": "unsigned", "v": "variable-length"}
    return " or ".join(names.get(k, k) for k in kinds)


def _kind_of(dtype: str) -> str:
    return {"f": "f", "i": "iu", "u": "iu"}[np.dtype(dtype).kind]


def _check_raw(f: h5py.File, file_bytes: int) -> None:
    if S.ENCODER not in f or not isinstance(f[S.ENCODER], h5py.Group):
        raise DexumiError(f"/{S.ENCODER} is missing")
    enc = f[S.ENCODER]
    widths: dict[str, int] = {}
    for name, (dt, width_key, _) in S.ENCODER_FIELDS.items():
        ds = _dataset(f, f"{S.ENCODER}/{name}", _kind_of(dt), 1 if width_key is None else 2, file_bytes)
        if width_key is not None:
            widths[name] = int(ds.shape[1])
    names = enc["angles"].attrs.get("names")
    if names is not None and len(names) != widths["angles"]:
        raise DexumiError(f"/{S.ENCODER}/angles has {widths['angles']} columns but {len(names)} names")
    g = _dataset(f, S.ENCODER_GAPS, "f", 2, file_bytes)  # the writer makes every dataset up front
    if g.shape[1] != 2:
        raise DexumiError(f"/{S.ENCODER_GAPS} has shape {g.shape} (expected (G, 2))")
    cams = f.get(S.CAMERAS)
    if cams is None:
        return
    if not isinstance(cams, h5py.Group):
        raise DexumiError(f"/{S.CAMERAS} is not a group")
    for cam, g in cams.items():
        if not isinstance(g, h5py.Group):
            raise DexumiError(f"/{S.CAMERAS}/{cam} is not a group")
        _dataset(f, f"{S.CAMERAS}/{cam}/{S.FRAMES}", "v", 1, file_bytes)
        for name, (dt, _) in S.CAMERA_FIELDS.items():
            _dataset(f, f"{S.CAMERAS}/{cam}/{name}", _kind_of(dt), 1, file_bytes)


def _check_view(f: h5py.File, file_bytes: int) -> None:
    ts = _dataset(f, S.TIMESTAMPS, "f", 1, file_bytes)
    n = ts.shape[0]
    act = _dataset(f, S.ACTION, "f", 2, file_bytes)
    if "names" not in act.attrs or len(act.attrs["names"]) != act.shape[1]:
        raise DexumiError(f"/{S.ACTION} has {act.shape[1]} columns but its names attribute does not match")
    for name, kinds, ndim in ((S.QPOS, "f", 2), (S.EXO_JOINTS, "f", 2), (S.VALID, "iu", 1)):
        ds = _dataset(f, name, kinds, ndim, file_bytes)
        if ds.shape[0] != n:
            raise DexumiError(f"/{name} has {ds.shape[0]} rows for {n} timestamps")
    if act.shape[0] != n:
        raise DexumiError(f"/{S.ACTION} has {act.shape[0]} rows for {n} timestamps")
    if f[S.QPOS].shape != act.shape:
        raise DexumiError(f"/{S.QPOS} has shape {f[S.QPOS].shape}, /{S.ACTION} {act.shape}")
    raw_cams = set(f[S.CAMERAS]) if S.CAMERAS in f else set()
    for group in (S.IMAGES, S.IMAGE_OFFSETS):
        g = f.get(group)
        if g is None:
            if raw_cams:
                raise DexumiError(f"/{group} is missing")
            continue
        if not isinstance(g, h5py.Group):
            raise DexumiError(f"/{group} is not a group")
        if set(g) != raw_cams:
            missing = sorted(set(g) ^ raw_cams)
            raise DexumiError(f"/{group} and /{S.CAMERAS} list different cameras ({', '.join(missing)})")
        for cam in g:
            ds = _dataset(f, f"{group}/{cam}", "iu" if group == S.IMAGES else "f", 1, file_bytes)
            if ds.shape[0] != n:
                raise DexumiError(f"/{group}/{cam} has {ds.shape[0]} rows for {n} timestamps")


def _check_text(f: h5py.File, file_bytes: int) -> None:
    for name in (S.CALIBRATION_PROFILE, S.RETARGET_MAP, S.SESSION, S.SYNC_REPORT, S.STATS):
        if name not in f:  # the writer makes every text dataset at creation (empty until finalised)
            raise DexumiError(f"/{name} is missing")
        ds = f[name]
        if not isinstance(ds, h5py.Dataset) or ds.ndim > 1 or (ds.ndim == 1 and ds.shape[0] > 1):
            raise DexumiError(f"/{name} is not a text dataset")
        if ds.dtype.kind not in "OSU":
            raise DexumiError(f"/{name} has dtype {ds.dtype} (expected text)")


def _finished(f: h5py.File) -> bool:
    v = f.attrs.get(S.A_STATE, "")
    return (v.decode() if isinstance(v, bytes) else str(v)) in (EpisodeState.FINAL, EpisodeState.RECOVERED)


def check_structure(f: h5py.File, path: str | Path, require_view: bool | None = None) -> None:
    """DexumiError naming the first structural problem. `require_view`: None = when the state says finished."""
    from dexumi.episode.h5open import check_version

    p = Path(path)
    with damage_as_error(p):
        check_version(f, p)
        try:
            file_bytes = p.stat().st_size
        except OSError:
            file_bytes = 1 << 62
        try:
            _check_raw(f, file_bytes)
            _check_text(f, file_bytes)
            if require_view or (require_view is None and _finished(f)):
                _check_view(f, file_bytes)
        except DexumiError as exc:
            raise DexumiError(f"{p}: damaged episode file: {exc}") from None
