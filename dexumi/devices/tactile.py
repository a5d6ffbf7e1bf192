"""A tactile board (DexUMI FSR, XHand tactile) on the encoder link: the same reader thread, receive stamps,
per-segment clock fit, bounded buffer, reconnects and gap records as the exoskeleton's encoder.

The boards only send: no commands, no INFO. The handshake waits for frames that pass the decoder's checks;
every reconnect starts a new clock segment (the 16-bit ms counter says nothing across an unplug).
`EncoderBatch.angles` of a tactile board carries values in physical units (`to_physical`): XHand fx, fy, fz
and the three force maps in N; FSR ADC words and FSR readings in counts (the board gives no unit).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from dexumi.devices.encoder import READ_CHUNK, EncoderConfig, EncoderDriver
from dexumi.errors import DexumiError
from firmware_bridge.decoder import DecodeOutput
from firmware_bridge.errors import ProtocolMismatch
from firmware_bridge.tactile import fsr, xhand
from firmware_bridge.tactile.decoder import TACTILE_DECODERS, FixedFrameDecoder, make_tactile_decoder
from firmware_bridge.vocab import TactileProtocol

TACTILE_PROTOCOLS = tuple(TACTILE_DECODERS)
NOMINAL_RATE_HZ: dict[str, float] = {
    TactileProtocol.FSR: 0.0,
    TactileProtocol.XHAND: 0.0,
}  # both free-run; the rate is measured


def channel_names(protocol_name: str) -> list[str]:
    if protocol_name == TactileProtocol.FSR:
        return list(fsr.CHANNEL_NAMES)
    return ["fx", "fy", "fz"] + [
        f"{m}{r}_{c}" for m in xhand.MAPS for r in range(xhand.ROWS) for c in range(xhand.COLS)
    ]


def channel_unit(protocol_name: str) -> str:
    return "counts" if protocol_name == TactileProtocol.FSR else "N"


def to_physical(protocol_name: str, counts: np.ndarray) -> np.ndarray:
    """Decoded int values → float64 in `channel_unit` (XHand maps: 0.01 N per count; fx/fy/fz already N)."""
    v = np.asarray(counts, np.float64)
    if protocol_name == TactileProtocol.XHAND:
        v = v.copy()
        v[:, 3:] *= xhand.NEWTONS_PER_COUNT
    return v


def finger_totals(protocol_name: str, values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-finger totals of physical values (n, C): FSR → (n, 2) thumb, index readings; XHand (one fingertip)
    → (n, 1) the sum of its z (normal) force map in N."""
    v = np.asarray(values, np.float64)
    if protocol_name == TactileProtocol.FSR:
        return v[:, fsr.ADC_WORDS : fsr.ADC_WORDS + 2], ["thumb", "index"]
    z = v[:, 3 + 2 * xhand.TAXELS : 3 + 3 * xhand.TAXELS]
    return z.sum(axis=1, keepdims=True), ["fingertip"]


class _DrainingDecoder:
    """A tactile decoder with the `drain()` a consumer's read calls: every frame complete so far comes out, the
    stream goes on (the newest frame waits for its successor; `flush()` lets it out before a reconnect)."""

    def __init__(self, inner: FixedFrameDecoder) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def feed(self, data: bytes) -> DecodeOutput:
        return self.inner.feed(data)

    def drain(self) -> DecodeOutput:
        return self.inner.feed(b"")

    def flush(self) -> DecodeOutput:
        return self.inner.flush()

    def mark_reconnect(self) -> None:
        self.inner.mark_reconnect()


class TactileDriver(EncoderDriver):
    """`EncoderDriver` for a send-only tactile board; `config.protocol` is `fsr` or `xhand-tactile`."""

    def __init__(self, config: EncoderConfig) -> None:
        if config.protocol not in TACTILE_PROTOCOLS:
            raise DexumiError(f"unknown tactile protocol {config.protocol!r}: use {' or '.join(TACTILE_PROTOCOLS)}")
        super().__init__(replace(config, protocol="auto"))
        self.config = config
        self.protocol = config.protocol

    def _handshake(self) -> bytes:
        deadline = time.monotonic() + self.config.detect_timeout_s
        probe = make_tactile_decoder(self.protocol)
        seen = bytearray()
        while time.monotonic() < deadline:
            data = self.transport.read(READ_CHUNK, 0.05)
            seen += data
            if probe.feed(data).blocks or probe.stats.frames:
                break
        else:
            if not seen:
                raise ProtocolMismatch(
                    f"no data from {self.config.port} within {self.config.detect_timeout_s:g} s: "
                    "is the tactile board powered and is this its port?"
                )
            raise ProtocolMismatch(
                f"the device on {self.config.port} does not send {self.protocol} frames: got "
                f"{len(seen)} bytes starting {bytes(seen[:8]).hex(' ')}"
            )
        self.decoder = _DrainingDecoder(make_tactile_decoder(self.protocol))  # type: ignore[assignment]
        self._stats.nominal_rate_hz = self.config.rate_hz or NOMINAL_RATE_HZ[self.protocol]
        return bytes(seen)

    @property
    def channels(self) -> int:
        return TACTILE_DECODERS[self.protocol].channels

    @property
    def joints(self) -> int:
        return self.channels

    def _held_frames(self) -> DecodeOutput:
        assert self.decoder is not None
        return self.decoder.flush()  # the held frame's successor will never come

    def _check_calibration(self) -> None:  # tactile boards take no joint calibration
        return

    def to_angles(self, counts: np.ndarray) -> np.ndarray:
        return to_physical(self.protocol, counts)
