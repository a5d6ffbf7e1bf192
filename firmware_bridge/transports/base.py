"""The byte-stream interface every transport (serial, BLE, ...) offers to the decoders."""

from __future__ import annotations

from abc import ABC, abstractmethod

from firmware_bridge.errors import BridgeError


class TransportLost(BridgeError):
    """The open link went away (cable pulled, device reset, radio dropped)."""


class Transport(ABC):
    """A bidirectional byte stream to one device. Frames are the decoder's business, not the transport's.

    `read` returns whatever bytes arrived (possibly none by the timeout) and raises `TransportLost` when
    the link is gone; `open` raises PortNotFound / PortBusy / PortPermission with a one-line message.
    Implementations are used from one reader thread; `write` may be called from another.
    """

    spec: str

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, max_bytes: int, timeout: float) -> bytes: ...

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @property
    def default_baudrate(self) -> int | None:
        return None

    def release(self) -> None:
        """Close for good, freeing what `open` acquired beyond the link (a `sim` port's emulator process)."""
        self.close()

    def describe(self) -> str:
        return self.spec

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
