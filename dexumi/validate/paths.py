"""Turning command-line PATHs (files or folders) into episode files, with one-line problems for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dexumi.episode import schema as S

H5_SUFFIXES = (".h5", ".hdf5")


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _in_folder(d: Path) -> list[Path]:
    out = []
    for p in sorted(d.iterdir()):
        if not p.is_file():
            continue
        name = p.name
        if name.endswith((S.DISCARDED, S.FAILED)):
            continue
        if name.endswith(H5_SUFFIXES) or name.endswith((S.PARTIAL, S.RECOVERING)):
            out.append(p)
    return out


def expand(paths: list[str | Path], include_unfinished: bool = True) -> Inputs:
    """Files as given; folders → their HDF5 files (sorted; `.discarded`/`.failed` skipped)."""
    res = Inputs()
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw).expanduser()  # "~/data" as the docs write it (the shell does not expand it in Python)
        if p.is_dir():
            res.folders.append(p)
            found = _in_folder(p)
            if not include_unfinished:
                found = [x for x in found if x.name.endswith(H5_SUFFIXES)]
            if not found:
                res.problems.append(f"{p}: no episode files in this folder")
            for x in found:
                if x.resolve() not in seen:
                    seen.add(x.resolve())
                    res.files.append(x)
        elif p.is_file():
            if p.resolve() not in seen:
                seen.add(p.resolve())
                res.files.append(p)
        else:
            res.problems.append(f"{p}: no such file or folder")
    return res
