"""Configuration of the fake BlueZ and of the fake encoder board behind it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeviceConfig:
    """One fake peripheral: its advertisement, its link and the protocol v1 board behind it."""

    name: str = "dexumi-fake"
    address: str = "C0:FF:EE:00:00:01"
    rssi: int = -55  # advertised RSSI (dBm); the fake alternates rssi and rssi-1 while advertising
    advertise_service: bool = True  # put the dexumi service UUID in the advertisement
    mtu: int = 247  # ATT MTU after exchange: notifications carry mtu-3 bytes
    rate_hz: float = 200.0
    channels: int = 16
    width: int = 3  # bytes per sample value (2, 3, 4)
    batch: int = 0  # samples per SAMPLES frame; 0 = ceil(rate / 500) like the firmware
    connection_interval_ms: float = 7.5  # one connection event per interval
    packets_per_event: int = 6  # notifications sent per connection event at most (pacing)
    advertising_interval_ms: float = 100.0  # how often RSSI PropertiesChanged is emitted while discovering
    drop_after: float | None = None  # seconds after Connect: force a disconnect (None = never)
    drops: int = 1  # how many forced disconnects
    reappear_after: float = 1.0  # seconds the device is gone (not advertising, not connectable) after a drop
    autostart: bool = False  # stream without waiting for START (a board that streams on connect)
    log_path: str | None = None  # JSON lines ground truth (samples sent, events)
    device_id: str = "FAKE-0001"
    model: str = "fake-ble-encoder"

    @property
    def payload_size(self) -> int:
        """Bytes per notification: ATT MTU minus the 3-byte notification header."""
        return self.mtu - 3

    @property
    def samples_per_frame(self) -> int:
        if self.batch > 0:
            return self.batch
        return max(1, -(-int(self.rate_hz) // 500))


@dataclass
class AdapterConfig:
    """The fake adapter (hci0) and the devices it can see."""

    address: str = "00:1A:7D:DA:71:13"
    name: str = "fake-hci0"
    devices: list[DeviceConfig] = field(default_factory=lambda: [DeviceConfig()])
