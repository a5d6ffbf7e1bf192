"""Build the firmware targets with the compilers found on PATH (no make, no vendor SDK).

    python -m firmware_bridge.firmware.build [TARGET ...] [--out DIR]

Targets: ``host_sil`` (the core + a synthetic ADC as a host program on a pty), ``vectors`` (the C golden
vector test), ``qemu`` (an ELF for ``qemu-system-arm -M mps2-an385``), ``m0`` (the core compiled for
Cortex-M0 exactly as the acceptance check does, with its size), ``stm32f0`` (the DexUMI-class board image:
ELF + BIN for an STM32F042K6), ``all``. The default output folder is ``firmware_bridge/firmware/build/``
(git-ignored).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FIRMWARE_DIR = Path(__file__).resolve().parent
CORE_DIR = FIRMWARE_DIR / "core"
BOARDS_DIR = FIRMWARE_DIR / "boards"
COMMON_DIR = BOARDS_DIR / "common"
TESTS_DIR = FIRMWARE_DIR / "tests"
DEFAULT_OUT = FIRMWARE_DIR / "build"

WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
# The SIL and QEMU targets have RAM to spare: bigger batches and ring, any sample width.
LARGE_CONFIG = ["-DDX_MAX_BATCH=32", "-DDX_RING_SAMPLES=256", "-DDX_MAX_WIDTH=4"]
M0_FLAGS = ["-mcpu=cortex-m0", "-mthumb", "-Os", "-std=c99", "-ffreestanding", "-Wall", "-Wextra", "-Werror"]
ARM_GCC = "arm-none-eabi-gcc"


class BuildError(RuntimeError):
    """A compiler is missing or a compilation failed (the message holds the compiler's output)."""


@dataclass(frozen=True)
class Size:
    text: int
    data: int
    bss: int

    @property
    def flash(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss


def core_sources() -> list[Path]:
    return sorted(CORE_DIR.glob("*.c"))


def protocol_sources() -> list[Path]:
    """The core files the vector test needs (no device, so no board functions)."""
    return [CORE_DIR / n for n in ("dx_cobs.c", "dx_crc32c.c", "dx_proto.c")]


def include_dirs() -> list[Path]:
    """Every folder holding a header, as the acceptance check passes them."""
    return sorted({h.parent for h in FIRMWARE_DIR.rglob("*.h") if "build" not in h.relative_to(FIRMWARE_DIR).parts})


def host_cc() -> str | None:
    return shutil.which(os.environ.get("CC", "cc"))


def arm_gcc() -> str | None:
    return shutil.which(ARM_GCC)


def _run(cmd: list[str | Path]) -> None:
    args = [str(c) for c in cmd]
    log.debug("%s", " ".join(args))
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{' '.join(args[:1])} failed:\n{r.stderr.strip()}")


def _need(tool: str | None, name: str) -> str:
    if tool is None:
        raise BuildError(f"{name} not found on PATH")
    return tool


def build_host_sil(out: Path = DEFAULT_OUT) -> Path:
    cc = _need(host_cc(), "cc")
    out.mkdir(parents=True, exist_ok=True)
    exe = out / "host_sil"
    _run(
        [
            cc,
            *WARNINGS,
            "-O2",
            *LARGE_CONFIG,
            f"-I{CORE_DIR}",
            f"-I{COMMON_DIR}",
            *core_sources(),
            COMMON_DIR / "dx_synth_adc.c",
            BOARDS_DIR / "host_sil" / "host_sil.c",
            "-o",
            exe,
        ]
    )
    return exe


def build_vectors_test(out: Path = DEFAULT_OUT) -> Path:
    cc = _need(host_cc(), "cc")
    out.mkdir(parents=True, exist_ok=True)
    exe = out / "dx_vectors_test"
    _run(
        [
            cc,
            *WARNINGS,
            "-D_POSIX_C_SOURCE=200809L",
            "-O1",
            f"-I{CORE_DIR}",
            *protocol_sources(),
            TESTS_DIR / "dx_vectors_test.c",
            "-o",
            exe,
        ]
    )
    return exe


def build_qemu(out: Path = DEFAULT_OUT) -> Path:
    gcc = _need(arm_gcc(), ARM_GCC)
    out.mkdir(parents=True, exist_ok=True)
    board = BOARDS_DIR / "qemu_mps2_an385"
    elf = out / "fw_mps2_an385.elf"
    _run(
        [
            gcc,
            "-mcpu=cortex-m3",
            "-mthumb",
            "-O2",
            "-ffreestanding",
            *WARNINGS,
            *LARGE_CONFIG,
            f"-I{CORE_DIR}",
            f"-I{COMMON_DIR}",
            *core_sources(),
            COMMON_DIR / "dx_synth_adc.c",
            COMMON_DIR / "dx_freestanding.c",
            board / "qemu_board.c",
            "-nostdlib",
            "-nostartfiles",
            "-T",
            board / "mps2_an385.ld",
            "-Wl,--gc-sections",
            "-lgcc",
            "-o",
            elf,
        ]
    )
    return elf


def build_m0_core(out: Path = DEFAULT_OUT) -> tuple[list[Path], Size]:
    """Each core file compiled as the acceptance check does; returns the objects and their total size."""
    gcc = _need(arm_gcc(), ARM_GCC)
    out = out / "m0"
    out.mkdir(parents=True, exist_ok=True)
    objs = []
    for c in core_sources():
        o = out / (c.stem + ".o")
        _run([gcc, *M0_FLAGS, *[f"-I{i}" for i in include_dirs()], "-c", c, "-o", o])
        objs.append(o)
    return objs, size(objs)


def build_stm32f0(out: Path = DEFAULT_OUT) -> tuple[Path, Size]:
    """The DexUMI-class board (STM32F042K6): ELF and raw BIN, linked against its 32 KB flash / 6 KB RAM."""
    gcc = _need(arm_gcc(), ARM_GCC)
    out.mkdir(parents=True, exist_ok=True)
    board = BOARDS_DIR / "dexumi_stm32f0"
    elf = out / "fw_dexumi_stm32f0.elf"
    _run(
        [
            gcc,
            *M0_FLAGS,
            f"-I{CORE_DIR}",
            f"-I{COMMON_DIR}",
            f"-I{board}",
            *core_sources(),
            COMMON_DIR / "dx_ads1256.c",
            COMMON_DIR / "dx_freestanding.c",
            *sorted(board.glob("*.c")),
            "-nostdlib",
            "-nostartfiles",
            "-T",
            board / "stm32f042k6.ld",
            "-Wl,--gc-sections",
            "-ffunction-sections",
            "-fdata-sections",
            "-lgcc",
            "-o",
            elf,
        ]
    )
    _run(
        [shutil.which("arm-none-eabi-objcopy") or "arm-none-eabi-objcopy", "-O", "binary", elf, elf.with_suffix(".bin")]
    )
    return elf, size([elf])


def size(paths: list[Path]) -> Size:
    """text/data/bss totals from arm-none-eabi-size."""
    tool = _need(shutil.which("arm-none-eabi-size"), "arm-none-eabi-size")
    r = subprocess.run([tool, "-t", *map(str, paths)], capture_output=True, text=True, check=True)
    last = r.stdout.strip().splitlines()[-1].split()
    return Size(int(last[0]), int(last[1]), int(last[2]))


TARGETS = ("host_sil", "vectors", "qemu", "m0", "stm32f0")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=["all"], choices=[*TARGETS, "all"])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    wanted = TARGETS if "all" in args.targets else args.targets
    try:
        for t in wanted:
            if t == "host_sil":
                log.info("host_sil: %s", build_host_sil(args.out))
            elif t == "vectors":
                log.info("vectors: %s", build_vectors_test(args.out))
            elif t == "qemu":
                log.info("qemu: %s", build_qemu(args.out))
            elif t == "m0":
                _, s = build_m0_core(args.out)
                log.info("m0 core: text %d data %d bss %d bytes", s.text, s.data, s.bss)
            elif t == "stm32f0":
                elf, s = build_stm32f0(args.out)
                log.info("stm32f0: %s  flash %d B of 32768, RAM %d B of 6144", elf, s.flash, s.ram)
    except BuildError as e:
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
