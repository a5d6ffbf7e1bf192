"""Which episodes an export takes (compatible hand, joints and cameras), at what rate and image size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import logging

from dexumi.errors import DexumiError
from dexumi.export.source import SourceInfo, inspect, split_parts
from dexumi.validate.paths import expand
from dexumi.vocab import Outcome

log = logging.getLogger(__name__)

FORMATS = ("lerobot", "robomimic", "act", "zarr")
LAYOUTS = ("replay-buffer", "dexumi")
IMAGE_FITS = ("crop", "pad", "stretch")
ONLY = ("success", "passed")
BLOCK = 64  # frames converted at a time: bounds memory on long episodes
RAW_WARN_BYTES = 2 << 30  # raw-image exports larger than this are announced with their size first


@dataclass
class ExportOptions:
    fmt: str
    out: Path
    fps: float | None = None
    image_size: tuple[int, int] | None = None  # (width, height)
    force: bool = False
    progress: bool = True
    valid_fraction: float = 0.1  # robomimic: share of episodes in mask/valid
    action_horizon: int = 1  # action[t] = state[t + action_horizon] at the export rate (see dexumi.export.action)
    privileged: bool = False  # also export observation-side signals the robot will not have (exo_joints)
    only: str | None = None  # success | passed: keep only those episodes
    exclude: Path | None = None  # a plain-text list of episode names/paths to leave out
    image_fit: str = "crop"  # crop | pad | stretch: how a size of another aspect ratio is reached
    act_length: int | None = None  # ACT: every episode cropped/padded to this many frames (default: the longest)
    act_compress: bool = False  # ACT: mobile-ALOHA's compressed variant (JPEG bytes + compress_len)
    layout: str = "replay-buffer"  # zarr: replay-buffer (diffusion_policy/UMI) | dexumi (episode_N/...)
    jpeg_quality: int = 90
    image_codec: str = "jpeg"  # zarr: jpeg | jpegxl chunks
    action_units: str = "rad"  # rad | motor: vendor units from the map's `motor:` section (dexumi.export.units)
    motor_map: Path | None = None  # the map whose `motor:` section to use (default: each episode's stored map)
    visual: str = "raw"  # raw | exo-masked | robot-overlay: images from `dexumi render`'s derived file (visual bridge)
    tactile_baseline: bool = False  # tactile: subtract each board's first valid reading (DexUMI's --force-adjust)
    tactile_total: bool = False  # tactile: per-finger totals instead of every channel


@dataclass
class ExportPlan:
    episodes: list[SourceInfo]
    skipped: list[str] = field(default_factory=list)
    fps: float = 30.0
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # camera → (width, height)
    opts: ExportOptions | None = None
    motor: Any = None  # dexumi.export.units.MotorScale when --action-units motor

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
    if opts.fmt == "zarr" and opts.layout not in LAYOUTS:
        raise DexumiError(f"--layout {opts.layout!r}: layouts are {', '.join(LAYOUTS)}")
    if opts.image_fit not in IMAGE_FITS:
        raise DexumiError(f"--image-fit {opts.image_fit!r}: choose {', '.join(IMAGE_FITS)}")
    if opts.only is not None and opts.only not in ONLY:
        raise DexumiError(f"--only {opts.only!r}: choose {', '.join(ONLY)}")
    if not (0 <= opts.action_horizon <= 1000):
        raise DexumiError(f"--action-horizon {opts.action_horizon}: must be 0..1000 steps")
    if opts.act_length is not None and not (2 <= opts.act_length <= 10_000_000):
        raise DexumiError(f"--act-length {opts.act_length}: must be at least 2")
    excluded = read_exclude(opts.exclude) if opts.exclude else set()
    inputs = expand(paths, include_unfinished=False)
    skipped = list(inputs.problems)
    good: list[SourceInfo] = []
    for p in inputs.files:
        if p.name in excluded or str(p) in excluded or str(p.resolve()) in excluded:
            log.info("%s: excluded by %s", p, opts.exclude)
            continue
        try:
            info = inspect(p)
            if opts.visual != "raw":
                from dexumi.visual.bridge import check_rendered

                check_rendered(p, opts.visual, sorted(info.cameras))
        except DexumiError as exc:
            skipped.append(str(exc))
            continue
        if opts.only == "success" and info.outcome != Outcome.SUCCESS:
            log.info("%s: outcome %s, not exported (--only success)", p, info.outcome)
            continue
        if good and info.signature() != good[0].signature():
            ref = good[0]
            what = (
                f"robot hand {info.hand!r} differs from {ref.hand!r}"
                if info.hand != ref.hand
                else "action joints differ"
                if info.action_names != ref.action_names
                else "exoskeleton joints differ"
                if info.exo_names != ref.exo_names
                else f"cameras {sorted(info.cameras)} differ from {sorted(ref.cameras)}"
            )
            skipped.append(f"{p}: {what} (the first episode, {ref.path.name}); not exported with it")
            continue
        parts, why = split_parts(info)
        if why:
            skipped.append(why)
        good.extend(parts)
    if opts.only == "passed" and good:
        good = _passed(good, skipped)
    if not good:
        raise DexumiError(
            "no episode to export"
            + (
                f": {skipped[0]}"
                if len(skipped) == 1
                else f" ({len(skipped)} inputs skipped; first: {skipped[0]})"
                if skipped
                else ""
            )
        )
    fps = float(opts.fps or good[0].nominal_fps or 30.0)
    if opts.fmt == "lerobot" and abs(fps - round(fps)) > 1e-9:
        raise DexumiError(f"LeRobot datasets need an integer fps, not {fps:g}; give --fps")
    sizes = {c: opts.image_size or wh for c, wh in good[0].cameras.items()}
    if opts.fmt == "lerobot":
        sizes = {c: (w + w % 2, h + h % 2) for c, (w, h) in sizes.items()}
    plan = ExportPlan(good, skipped, fps, sizes, opts)
    if opts.action_units not in ("rad", "motor"):
        raise DexumiError(f"--action-units {opts.action_units!r}: units are rad, motor")
    if opts.action_units == "motor":
        from dexumi.export.units import for_episodes

        plan.motor = for_episodes([Path(i.path) for i in good], good[0].action_names, good[0].hand, opts.motor_map)
    return plan


def read_exclude(path: Path) -> set[str]:
    """`--exclude FILE`: one episode file name or path per line; `#` starts a comment (what `dexumi rank
    --suspects FILE` writes)."""
    p = Path(path).expanduser()
    try:
        if p.stat().st_size > 16 << 20:
            raise DexumiError(f"--exclude {path}: larger than 16 MB; not a list of episode names")
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DexumiError(f"--exclude {path}: {exc.strerror or exc}") from None
    out: set[str] = set()
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            out.add(name)
            out.add(Path(name).name) if "/" not in name else out.add(str(Path(name).expanduser().resolve()))
    return out


def _passed(good: list[SourceInfo], skipped: list[str]) -> list[SourceInfo]:
    """`--only passed`: episodes whose `dexumi validate` verdict (default checks) is pass or warn."""
    from dexumi.validate import validate_paths

    res = validate_paths([g.path for g in good], workers=1, progress=False)
    failed = {str(Path(e.path)) for e in res.episodes if e.failed()}
    for g in good:
        if str(g.path) in failed:
            log.info("%s: fails validation, not exported (--only passed)", g.path)
    return [g for g in good if str(g.path) not in failed]


def blocks(n: int, size: int = BLOCK) -> Iterator[tuple[int, int]]:
    for k in range(0, n, size):
        yield k, min(n, k + size)
