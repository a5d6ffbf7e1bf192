"""Opening episode files read-only with bounded work, whatever is on disk.

A normal open refuses a truncated file ("truncated file: eof = ..."), but a SWMR reader skips that check, and
HDF5's SWMR reader retries every metadata read that fails its checksum 100 times with a growing sleep —
on a truncated or damaged file that is minutes per object, in C, deaf to Ctrl-C. So:

- a file that was closed cleanly (every finished episode) is opened normally, never as a SWMR reader;
- only a file that may still be (or was being) written — `.partial` / `.recovering` — falls back to a
  SWMR read, with the metadata read attempts bounded to `READ_ATTEMPTS` (a few ms per failing object).
"""

from __future__ import annotations

import ctypes
import logging
import stat
from functools import lru_cache
from pathlib import Path

import h5py

from dexumi.episode import schema as S
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
READ_ATTEMPTS = 4  # SWMR metadata read attempts (HDF5's default for SWMR readers is 100, with backoff)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@lru_cache(maxsize=1)
def _set_read_attempts():
    """`H5Pset_metadata_read_attempts` from the HDF5 library h5py loaded (not exposed by h5py), or None."""
    try:
        with open("/proc/self/maps") as fh:
            libs = {line.split()[-1] for line in fh if "libhdf5" in line and "hl" not in line.rsplit("/", 1)[-1]}
        for path in sorted(libs):
            lib = ctypes.CDLL(path)
            fn = lib.H5Pset_metadata_read_attempts
            fn.argtypes = [ctypes.c_int64, ctypes.c_uint]
            fn.restype = ctypes.c_int
            return fn
    except (OSError, AttributeError) as exc:
        log.debug("cannot bound SWMR read attempts: %s", exc)
    return None


def _swmr_open(path: Path) -> h5py.File:
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
    fn = _set_read_attempts()
    if fn is not None:
        fn(fapl.id, READ_ATTEMPTS)
    fid = h5py.h5f.open(str(path).encode(), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


def may_be_unfinished(path: Path) -> bool:
    """A name a writer or a recovery uses while the file is open (`.h5.partial`, `.h5.recovering`)."""
    return path.name.endswith((".h5.partial", ".h5.recovering"))


def check_regular(path: Path) -> None:
    """DexumiError unless `path` is a regular file (not a folder, device node, FIFO, socket)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DexumiError(f"{path}: no such file") from None
    except OSError as exc:
        raise DexumiError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DexumiError(f"{path}: is a folder, not an episode file")
    if not stat.S_ISREG(st.st_mode):
        raise DexumiError(f"{path}: not a regular file (a device, FIFO or socket); refusing to read it")


def has_hdf5_signature(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def open_readonly(path: str | Path) -> tuple[h5py.File, bool]:
    """(file, cleanly_closed). DexumiError in one line when it cannot be opened."""
    p = Path(path)
    check_regular(p)
    if not has_hdf5_signature(p):
        raise DexumiError(f"{p}: not an HDF5 file")
    try:
        return h5py.File(p, "r"), True
    except OSError as exc:
        first = " ".join(str(exc).split())[:160]
        if not may_be_unfinished(p):
            why = "truncated (shorter than the file says)" if "truncated" in first else f"damaged ({first})"
            raise DexumiError(f"{p}: cannot open as HDF5: {why}") from None
    try:
        return _swmr_open(p), False
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError/RuntimeError/ValueError on damage
        raise DexumiError(f"{p}: cannot open as HDF5 ({' '.join(str(exc).split())[:120]})") from None


def check_version(f: h5py.File, path: Path) -> None:
    fmt = f.attrs.get(S.A_FORMAT)
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != S.FORMAT:
        raise DexumiError(f"{path}: not a dexumi episode (format attribute {fmt!r})")
    ver = int(f.attrs.get(S.A_VERSION, -1))
    if ver > S.VERSION:
        raise DexumiError(
            f"{path}: episode format version {ver} is newer than this dexumi reads ({S.VERSION}); update dexumi"
        )
    if ver < 1:
        raise DexumiError(f"{path}: invalid episode format version {ver}")


def open_h5(path: str | Path) -> h5py.File:
    """Open read-only; a `.partial` file still being written (or left by a crash) is opened as a SWMR reader
    with bounded retries (dexumi.episode.h5open)."""
    p = Path(path)
    if not p.exists():
        raise DexumiError(f"{p}: no such episode file")
    return open_readonly(p)[0]
