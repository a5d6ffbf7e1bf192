"""Outputs addressed by URL through fsspec (`memory://`, `file://`, `s3://…` with s3fs installed, …).

A dataset bound for a URL is built and checked in a local folder first (the usual staging), then uploaded
under `<url>.partial-<id>` with its marker file last, and moved onto `<url>`. On local and in-memory file systems
that move is a rename; on object stores it is a copy (not atomic): a dataset there is complete when its marker
(`.dexumi-export.json`) exists, which is written last. Inputs (episode files) are always paths: HDF5 is read
with h5py from a (shared) POSIX file system."""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


def is_url(target: str | Path) -> bool:
    return "://" in str(target)


def _fs(url: str):
    try:
        import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships neither py.typed nor a stub package
    except ImportError:
        raise DexumiError(f"{url}: URLs need fsspec: pip install 'dexumi[scale]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise DexumiError(f"{url}: {str(exc).splitlines()[0][:160]}") from None


def check_target(url: str, force: bool, marker: str, command: str) -> None:
    """Refuse an existing `url` unless `force` and it holds `marker` of the same command (as StagedDir does)."""
    fs, root = _fs(url)
    try:
        exists = fs.exists(root)
        if exists and not force:
            raise DexumiError(f"{url} already exists; use --force to replace it")
        if exists:
            try:
                m = json.loads(fs.cat_file(f"{root.rstrip('/')}/{marker}"))
            except (OSError, ValueError):
                m = None
            if not isinstance(m, dict) or m.get("command") != command:
                raise DexumiError(
                    f"{url} was not written by `dexumi {command}` (no {marker}); not replacing it, even with --force"
                )
    except DexumiError:
        raise
    except Exception as exc:  # noqa: BLE001 - each fsspec backend has its own errors
        raise DexumiError(
            f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        ) from None


def publish_tree(local: Path, url: str, marker: str) -> int:
    """Upload the folder `local` to `url` (marker last), replacing what was there. Returns bytes uploaded."""
    fs, root = _fs(url)
    root = root.rstrip("/")
    tmp = f"{root}.partial-{uuid.uuid4().hex[:8]}"
    files = sorted((p for p in Path(local).rglob("*") if p.is_file()), key=lambda p: (p.name == marker, str(p)))
    total = 0
    try:
        for p in files:
            dst = f"{tmp}/{p.relative_to(local).as_posix()}"
            parent = dst.rsplit("/", 1)[0]
            fs.makedirs(parent, exist_ok=True)
            fs.put_file(str(p), dst)
            total += p.stat().st_size
        if fs.exists(root):
            fs.rm(root, recursive=True)
        fs.mv(tmp, root, recursive=True)
    except Exception as exc:  # noqa: BLE001
        try:
            if fs.exists(tmp):
                fs.rm(tmp, recursive=True)
        except Exception:  # noqa: BLE001
            pass
        raise DexumiError(
            f"cannot upload to {url}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else ''} (nothing was published)"
        ) from None
    log.info("uploaded %d file(s), %.1f MB to %s", len(files), total / 2**20, url)
    return total


def local_staging_for(url: str) -> Path:
    """A local folder to build a URL-bound dataset in (DEXUMI_WORK_DIR, else ~/.cache/dexumi/outputs)."""
    import hashlib

    base = Path(os.environ.get("DEXUMI_WORK_DIR") or Path.home() / ".cache" / "dexumi" / "outputs")
    return base / hashlib.sha1(url.encode()).hexdigest()[:16] / "dataset"
