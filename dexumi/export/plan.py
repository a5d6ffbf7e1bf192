"""Which episodes an export takes (compatible hand, joints and cameras), at what rate and image size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dexumi.errors import DexumiError
from dexumi.export.source import SourceInfo, inspect
from dexumi.validate.paths import expand

FORMATS = ("lerobot", "robomimic", "act")
BLOCK = 64  # frames converted at a time: bounds memory on long episodes


@dataclass
class ExportOptions:
    fmt: str
    out: Path
    fps: float | None = None
    image_size: tuple[int, int] | None = None  # (width, height)
    force: bool = False
    progress: bool = True
    valid_fraction: float = 0.1  # robomimic: share of episodes in mask/valid


@dataclass
class ExportPlan:
    episodes: list[SourceInfo]
    skipped: list[str] = field(default_factory=list)
    fps: float = 30.0
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # camera → (width, height)

    @property
    def cameras(self) -> list[str]:
        return sorted(self.sizes)

    @property
    def first(self) -> SourceInfo:
        return self.episodes[0]


def parse_size(text: str | None) -> tuple[int, int] | None:
    """`WxH` → (W, H)."""
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DexumiError(f"--image-size {text!r}: expected WxH, e.g. 224x224") from None
    if w < 2 or h < 2 or w > 8192 or h > 8192:
        raise DexumiError(f"--image-size {text!r}: width and height must be 2..8192")
    return w, h


def make_plan(paths: list[str | Path], opts: ExportOptions) -> ExportPlan:
    """Inspect every input; unreadable files and episodes unlike the first one are skipped with a reason."""
    if opts.fmt not in FORMATS:
        raise DexumiError(f"--to {opts.fmt!r}: formats are {', '.join(FORMATS)}")
    if opts.fps is not None and not (0 < opts.fps <= 1000):
        raise DexumiError(f"--fps {opts.fps}: must be in (0, 1000]")
    inputs = expand(paths, include_unfinished=False)
    skipped = list(inputs.problems)
    good: list[SourceInfo] = []
    for p in inputs.files:
        try:
            info = inspect(p)
        except DexumiError as exc:
            skipped.append(str(exc))
            continue
        if good and info.signature() != good[0].signature():
            ref = good[0]
            what = (f"robot hand {info.hand!r} differs from {ref.hand!r}" if info.hand != ref.hand else
                    "action joints differ" if info.action_names != ref.action_names else
                    "exoskeleton joints differ" if info.exo_names != ref.exo_names else
                    f"cameras {sorted(info.cameras)} differ from {sorted(ref.cameras)}")
            skipped.append(f"{p}: {what} (the first episode, {ref.path.name}); not exported with it")
            continue
        good.append(info)
    if not good:
        raise DexumiError("no episode to export" + (f": {skipped[0]}" if len(skipped) == 1 else
                                                     f" ({len(skipped)} inputs skipped; first: {skipped[0]})" if skipped
                                                     else ""))
    fps = float(opts.fps or good[0].nominal_fps or 30.0)
    if opts.fmt == "lerobot" and abs(fps - round(fps)) > 1e-9:
        raise DexumiError(f"LeRobot datasets need an integer fps, not {fps:g}; give --fps")
    sizes = {c: opts.image_size or wh for c, wh in good[0].cameras.items()}
    if opts.fmt == "lerobot":
        sizes = {c: (w + w % 2, h + h % 2) for c, (w, h) in sizes.items()}
    return ExportPlan(good, skipped, fps, sizes)


def blocks(n: int, size: int = BLOCK) -> Iterator[tuple[int, int]]:
    for k in range(0, n, size):
        yield k, min(n, k + size)
