"""Writing an export's dataset: the summary it returns, the format writers behind one call, the raw-image space
check. Shared by the local run (`dexumi.export.run`) and the batch-engine run (`dexumi.export.sharded`)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dexumi.errors import DexumiError
from dexumi.export.plan import RAW_WARN_BYTES, ExportOptions, ExportPlan
from dexumi.export.prepared import Loop

log = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    """What an export wrote: format, folder, rate, image sizes, one row per episode, skipped inputs, time, bytes."""

    fmt: str
    out: Path
    fps: float
    sizes: dict[str, tuple[int, int]]
    episodes: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes: int = 0

    @property
    def frames(self) -> int:
        return int(sum(e["frames"] for e in self.episodes))

    def to_dict(self) -> dict:
        return {
            "format": self.fmt,
            "out": str(self.out),
            "fps": self.fps,
            "image_size": {c: f"{w}x{h}" for c, (w, h) in self.sizes.items()},
            "episodes": self.episodes,
            "frames": self.frames,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
        }


def output_bytes(p: Path) -> int:
    """Bytes of every file under `p` (the published dataset)."""
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def write_dataset(plan: ExportPlan, tmp: Path, opts: ExportOptions, tick, loop: Loop | None = None) -> list[dict]:
    """The dataset in `tmp`; `loop`: where robomimic and zarr take their episodes from (default: read here)."""
    from dexumi.export.source import opencv_serial

    with opencv_serial():
        return _write_format(plan, tmp, opts, tick, loop)


def _write_format(plan: ExportPlan, tmp: Path, opts: ExportOptions, tick, loop: Loop | None = None) -> list[dict]:
    if opts.fmt == "act":
        from dexumi.export import act

        return act.write(plan, tmp, tick)
    if opts.fmt == "robomimic":
        from dexumi.export import robomimic

        return robomimic.write(plan, tmp, tick, opts, loop)
    if opts.fmt == "zarr":
        from dexumi.export import zarr_export

        return zarr_export.write(plan, tmp, tick, loop)
    from dexumi.export import lerobot

    return lerobot.write(plan, tmp, tick)


def estimate_bytes(plan: ExportPlan, opts: ExportOptions) -> int | None:
    """Bytes a raw-image export (ACT without compression, robomimic) will take; None when images are coded."""
    if not (opts.fmt == "robomimic" or (opts.fmt == "act" and not opts.act_compress)):
        return None
    per_frame = sum(w * h * 3 for w, h in plan.sizes.values()) + 64 * len(plan.first.vector_names)
    if opts.fmt == "act":
        from dexumi.export.act import common_length

        frames = common_length(plan) * len(plan.episodes)
    else:
        frames = sum(int(e.span_s * plan.fps) + 1 for e in plan.episodes)
    return frames * per_frame


def check_space(plan: ExportPlan, opts: ExportOptions) -> None:
    """A warning past RAW_WARN_BYTES of raw images; DexumiError (nothing written) when they will not fit."""
    est = estimate_bytes(plan, opts)
    if est is None:
        return
    parent = Path(opts.out).expanduser().resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if est > RAW_WARN_BYTES:
        log.warning(
            "%s export with raw images: about %.1f GB (%.1f GB free); --image-size or --act-compress make it smaller",
            opts.fmt,
            est / 2**30,
            free / 2**30,
        )
    if est > free:
        raise DexumiError(
            f"{opts.out}: this {opts.fmt} export needs about {human_bytes(est)} of raw images, "
            f"{human_bytes(free)} free; nothing written (--image-size or --act-compress make it smaller)"
        )


def human_bytes(n: float) -> str:
    """`n` bytes as GB or MB with two/one decimals."""
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"
