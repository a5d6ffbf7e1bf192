"""pytest fixtures for BLE tests; import them into a test module: ``from fakebluez.fixtures import *``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .bus import PrivateBus, dbus_daemon_path
from .config import DeviceConfig
from .harness import FakeBlueZProcess

__all__ = ["ble_bus", "start_fake", "require_dbus_daemon"]


def require_dbus_daemon() -> None:
    """Skip the calling test module (with the reason printed by -rs) when dbus-daemon is missing."""
    if dbus_daemon_path() is None:
        pytest.skip(
            "dbus-daemon is not installed (apt-get install dbus): the fake BlueZ needs a private bus",
            allow_module_level=True,
        )


@pytest.fixture(scope="module")
def ble_bus() -> Iterator[str]:
    """One private system bus per test module; bleak in this process is pointed at it."""
    bus = PrivateBus()
    address = bus.start()
    old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    try:
        yield address
    finally:
        if old is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old
        bus.stop()


@pytest.fixture
def start_fake(ble_bus: str, tmp_path: Path) -> Iterator[Callable[..., FakeBlueZProcess]]:
    """start_fake(**DeviceConfig fields) -> a running FakeBlueZProcess with a ground-truth log."""
    running: list[FakeBlueZProcess] = []

    def start(**kw: object) -> FakeBlueZProcess:
        kw.setdefault("log_path", str(tmp_path / f"truth{len(running)}.jsonl"))
        fake = FakeBlueZProcess(ble_bus, DeviceConfig(**kw)).start()  # type: ignore[arg-type]
        running.append(fake)
        return fake

    yield start
    for fake in running:
        fake.stop()
