"""The resume manifest: one JSON line per finished episode with its content hash and result.

A job interrupted as a whole (Ctrl-C, a killed driver, a lost cluster) leaves the lines of what finished; a rerun
with the same manifest and the same parameters takes those results again instead of recomputing them, as long
as the episode's content hash is unchanged. The first line names the command and a hash of its parameters: a
manifest of other parameters is started afresh. Lines are appended and fsync'ed one by one; a last line cut
short by a kill is ignored."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

FORMAT = "dexumi-batch-manifest"


def params_hash(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]


def content_hash(path: str | Path) -> dict[str, Any]:
    """The episode's fingerprint (dexumi.episode.derived: creation time, number, size, hashes of its first and
    last MiB); for a file that is not a readable episode, its size and edge hash alone."""
    from dexumi.episode.derived import edges_sha256, fingerprint

    try:
        return fingerprint(path)
    except Exception:  # noqa: BLE001 - unreadable files are batch inputs too (validate reports them)
        p = Path(path)
        try:
            size = p.stat().st_size
            return {"name": p.name, "size": size, "edges_sha256": edges_sha256(p, size)}
        except OSError:
            return {"name": p.name, "missing": True}


class Manifest:
    """`Manifest(path, command, params)`: `lookup(key, source)` → an earlier result or None; `record(...)`."""

    def __init__(self, path: str | Path, command: str, params: Any) -> None:
        self.path = Path(path).expanduser()
        self.header = {"format": FORMAT, "command": command, "params": params_hash(params)}
        self.entries: dict[str, dict] = {}
        self._load()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.entries and not self._header_ok()
            self._fh = open(self.path, "w" if fresh else "a", encoding="utf-8")
            if fresh:
                self._write(self.header)
        except OSError as exc:
            raise DexumiError(f"manifest {self.path}: {exc.strerror or exc}") from None

    def _header_ok(self) -> bool:
        try:
            with open(self.path, encoding="utf-8") as fh:
                first = json.loads(fh.readline() or "null")
            return first == self.header
        except (OSError, ValueError):
            return False

    def _load(self) -> None:
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise DexumiError(f"manifest {self.path} is a folder")
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            raise DexumiError(f"manifest {self.path}: {exc.strerror or exc}") from None
        try:
            head = json.loads(lines[0]) if lines else None
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            if lines:
                raise DexumiError(
                    f"manifest {self.path} exists and is not a dexumi batch manifest; refusing to overwrite it"
                )
            return
        if head != self.header:
            log.warning("manifest %s was written for other parameters (or another command); starting afresh", self.path)
            return
        for line in lines[1:]:
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(e, dict) and isinstance(e.get("key"), str):
                self.entries[e["key"]] = e

    def _write(self, doc: dict) -> None:
        self._fh.write(json.dumps(doc, default=str) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def lookup(self, key: str, source: str | None) -> dict | None:
        """The recorded entry for `key` when its input still has the recorded content hash."""
        e = self.entries.get(key)
        if e is None:
            return None
        if source is not None and e.get("fingerprint") != json.loads(json.dumps(content_hash(source), default=str)):
            return None
        return e

    def record(self, key: str, fingerprint: dict, value: Any, ok: bool = True, error: str = "") -> None:
        e = {"key": key, "fingerprint": fingerprint, "ok": ok, "value": value, "error": error}
        self.entries[key] = json.loads(json.dumps(e, default=str))
        try:
            self._write(e)
        except OSError as exc:
            raise DexumiError(f"manifest {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
