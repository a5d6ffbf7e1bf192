"""The firmware builds where it must: the core freestanding for Cortex-M0 (as the acceptance check
compiles it), the DexUMI-class STM32F042K6 image within its 32 KB flash / 6 KB RAM, and the BLE board's
GATT UUIDs agree with the docs and the host."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_bridge.firmware import build
from firmware_bridge.firmware.testing import build_dir, missing_tools

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
ARM_MISSING = missing_tools("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm")
needs_arm = pytest.mark.skipif(ARM_MISSING is not None, reason=str(ARM_MISSING))
# what a freestanding Cortex-M0 object may call besides its own functions: libgcc's division and switch
# helpers and the board interface (no libc: no memcpy, printf, malloc ...)
ALLOWED_EXTERNAL = re.compile(r"^(__aeabi_\w+|__gnu_thumb1_case_\w+|board_\w+|dx_\w+)$")


def undefined_symbols(objs: list[Path]) -> set[str]:
    r = subprocess.run(["arm-none-eabi-nm", "-u", *map(str, objs)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in r.stdout.splitlines() if line.strip().startswith("U ")}


@needs_arm
def test_firmware_core_compiles_freestanding_for_cortex_m0() -> None:
    objs, size = build.build_m0_core(build_dir())
    assert (
        {o.stem for o in objs}
        == {c.stem for c in build.core_sources()}
        >= {"dx_cobs", "dx_crc32c", "dx_proto", "dx_ring", "dx_device"}
    )
    log.info("core for Cortex-M0 -Os: text %d, data %d, bss %d bytes", size.text, size.data, size.bss)
    assert 1500 < size.text < 6000  # measured 3.5 kB; a jump means something unintended got in
    assert (size.data, size.bss) == (0, 0)  # no hidden state: everything lives in the board's dx_device_t
    bad = {s for s in undefined_symbols(objs) if not ALLOWED_EXTERNAL.match(s)}
    assert bad == set()


@needs_arm
def test_firmware_stm32f0_image_fits_the_f042k6() -> None:
    elf, size = build.build_stm32f0(build_dir())
    log.info("STM32F042K6 image: flash %d B of 32768, RAM %d B of 6144", size.flash, size.ram)
    assert size.flash < 32 * 1024
    assert size.ram + 1024 <= 6 * 1024  # at least 1 KB of stack left (the linker script asserts it too)
    image = elf.with_suffix(".bin").read_bytes()
    initial_sp, reset = int.from_bytes(image[0:4], "little"), int.from_bytes(image[4:8], "little")
    assert initial_sp == 0x20000000 + 6 * 1024
    assert reset & 1 == 1 and 0x08000000 <= reset - 1 < 0x08000000 + len(image)  # Thumb, inside the image


def _uuids(text: str) -> list[str]:
    return re.findall(r"d3c1000[123]-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text.lower())


def test_firmware_ble_uuids_agree_with_docs_and_host() -> None:
    header = (build.BOARDS_DIR / "ble_nrf52840" / "dx_ble_uuids.h").read_text()
    strings = dict(re.findall(r'#define DX_BLE_UUID_(\w+)_STR "([0-9a-f-]+)"', header))
    expected = {
        "SERVICE": "d3c10001-5b1e-4d8a-9f0e-6a7de0a1b2c3",
        "SAMPLES": "d3c10002-5b1e-4d8a-9f0e-6a7de0a1b2c3",
        "COMMANDS": "d3c10003-5b1e-4d8a-9f0e-6a7de0a1b2c3",
    }
    assert strings == expected
    # the fields Zephyr's BT_UUID_128_ENCODE gets rebuild the same strings
    suffix = re.search(r"#define DX_BLE_UUID_SUFFIX 0x(\w+), 0x(\w+), 0x(\w+), 0x(\w+)ULL", header)
    assert suffix is not None
    for name, uuid in expected.items():
        w32 = re.search(rf"#define DX_BLE_UUID_{name}_W32 0x(\w+)", header)
        assert w32 is not None and "-".join([w32.group(1), *suffix.groups()]) == uuid
    assert set(_uuids((ROOT / "docs" / "firmware.md").read_text())) == set(expected.values())
    host = ROOT / "firmware_bridge" / "transports" / "ble_uuids.py"
    if host.exists():  # the host's BLE transport (another issue) must use the same service
        assert set(_uuids(host.read_text())) == set(expected.values())


def test_firmware_host_build_has_no_warnings_with_pedantic() -> None:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no host cc")
    r = subprocess.run(
        [
            cc,
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Wconversion",
            "-Werror",
            "-fsyntax-only",
            f"-I{build.CORE_DIR}",
            *map(str, build.core_sources()),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
