"""What the encoder driver does differently per protocol: one small link strategy for each.

`V1Link` — the dexumi protocol: a command channel (GET_INFO, SET_RATE, START, STOP), frames batched by the
board, counts at the board's resolution. `LegacyLink` — the DexUMI STM32 boards: no commands, one frame at
a time (reads are coalesced), ratiometric angles from the last two channels.
The driver owns the thread, buffer and clock; a link answers the handshake, starts and stops the stream
and converts counts to angles.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from firmware_bridge import legacy, protocol
from firmware_bridge.decoder import Decoder, LegacyDecoder, V1Decoder
from firmware_bridge.protocol import MsgType

if TYPE_CHECKING:
    from dexumi.devices.encoder import EncoderDriver
    from dexumi.types import EncoderCalibration


class EncoderLink(ABC):
    """One protocol's side of the driver (it holds the driver for its config, info and command channel)."""

    protocol: ClassVar[str]
    expects: ClassVar[str]  # how a mismatch is worded: "the device … does not speak <expects>"
    coalesce_reads: ClassVar[bool] = False  # let a trickle of small reads gather before decoding
    queries_info: ClassVar[bool] = False  # send GET_INFO while detecting

    def __init__(self, driver: EncoderDriver) -> None:
        self.driver = driver

    @abstractmethod
    def found(self, seen: bytes) -> bool:
        """Handshake: has the device said enough (in `seen`) to start streaming?"""

    @abstractmethod
    def begin(self, seen: bytes) -> tuple[Decoder, bytes]:
        """Start streaming: the decoder, and the bytes already read that it should decode first."""

    def resume(self) -> None:  # noqa: B027 - optional hook: most links need nothing here
        """Start the stream again after a reconnect."""

    def end(self) -> None:  # noqa: B027 - optional hook: most links need nothing here
        """Stop the stream (the link is still open)."""

    @abstractmethod
    def nominal_rate_hz(self) -> float: ...

    @abstractmethod
    def channels(self) -> int: ...

    def joints(self) -> int:
        return self.channels()

    @abstractmethod
    def to_angles(self, counts: np.ndarray, cal: EncoderCalibration | None) -> np.ndarray: ...


class V1Link(EncoderLink):
    protocol = "v1"
    expects = "dexumi protocol v1 (try --protocol legacy)"
    queries_info = True

    def found(self, seen: bytes) -> bool:
        out = V1Decoder().feed(seen)
        info = next((m for m in out.messages if isinstance(m, protocol.DeviceInfo)), None)
        if info is not None:
            self.driver.info = info
        return info is not None

    def begin(self, seen: bytes) -> tuple[Decoder, bytes]:
        rate = self.driver.config.rate_hz
        if rate:
            self.driver._send(MsgType.SET_RATE, rate_hz=rate)
        self.driver._send(MsgType.START)
        return V1Decoder(), b""  # what came before START is only the handshake's answers

    def resume(self) -> None:
        d = self.driver
        d._send(MsgType.GET_INFO)
        if d.config.rate_hz:
            d._send(MsgType.SET_RATE, rate_hz=d.config.rate_hz)
        d._send(MsgType.START)

    def end(self) -> None:
        self.driver._send(MsgType.STOP)

    def nominal_rate_hz(self) -> float:
        info = self.driver.info
        return self.driver.config.rate_hz or (info.rate_hz if info else 0.0)

    def channels(self) -> int:
        info = self.driver.info
        return info.channels if info is not None else int(self.driver.config.channels or 0)

    def to_angles(self, counts: np.ndarray, cal: EncoderCalibration | None) -> np.ndarray:
        if cal is not None:
            return cal.apply(counts)
        info = self.driver.info
        bits = info.resolution_bits if info else 24
        return counts * (np.pi / float(1 << (bits - 1)))


class LegacyLink(EncoderLink):
    protocol = "legacy"
    expects = "legacy DexUMI frames (try --protocol v1)"
    # a 40-byte legacy frame per read at 1.7 kHz: let bytes gather (not for v1, whose frames are batched by
    # the board: bytes unread when a cable is pulled are lost with the tty)
    coalesce_reads = True

    def found(self, seen: bytes) -> bool:
        d = self.driver
        channels = d.config.channels or legacy.guess_channels(seen)
        if channels:
            d.config = replace(d.config, channels=channels)
        return bool(channels)

    def begin(self, seen: bytes) -> tuple[Decoder, bytes]:
        return LegacyDecoder(self.driver.config.channels), seen

    def nominal_rate_hz(self) -> float:
        return 0.0  # legacy boards free-run

    def channels(self) -> int:
        return int(self.driver.config.channels or 0)

    def joints(self) -> int:
        return self.channels() - 2  # the last two channels are the ratiometric references

    def to_angles(self, counts: np.ndarray, cal: EncoderCalibration | None) -> np.ndarray:
        if cal is not None:  # ratiometric first, then the per-joint calibration
            return cal.apply(legacy.ratiometric_angles(counts) / (2 * np.pi))
        return legacy.ratiometric_angles(counts)


LINKS: dict[str, type[EncoderLink]] = {"v1": V1Link, "legacy": LegacyLink}
