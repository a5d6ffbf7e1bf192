"""A structural JPEG check: OpenCV decodes a truncated or garbled JPEG without complaint (libjpeg only warns)."""

from __future__ import annotations

import numpy as np

# after 0xFF inside entropy-coded data only these may follow: stuffing, restart markers, the markers that may
# separate the scans of a progressive JPEG (DHT, SOS, DRI) and fill bytes; EOI only at the very end
_ALLOWED = np.zeros(256, bool)
_ALLOWED[[0x00, 0xC4, 0xDA, 0xDD, 0xFF]] = True
_ALLOWED[0xD0:0xD8] = True


def soi_eoi_bounds(buf: np.ndarray | bytes) -> tuple[np.ndarray, int] | None:
    """The bytes and the end (just past EOI, trailing zero padding ignored) of a JPEG that starts with SOI and
    ends with EOI; None otherwise."""
    b = np.frombuffer(buf, np.uint8) if not isinstance(buf, np.ndarray) else buf
    if len(b) < 4 or b[0] != 0xFF or b[1] != 0xD8:
        return None
    end = len(b)
    while end > 2 and b[end - 1] == 0:
        end -= 1
    if b[end - 2] != 0xFF or b[end - 1] != 0xD9:
        return None
    return b, end


def structure_ok(buf: np.ndarray | bytes) -> bool:
    """SOI first, EOI last (trailing zero padding allowed), a scan, and no invalid marker inside scan data."""
    bounds = soi_eoi_bounds(buf)
    if bounds is None:
        return False
    b, end = bounds
    # walk the header segments up to the first SOS
    i = 2
    while True:
        if i + 4 > end or b[i] != 0xFF:
            return False
        marker = int(b[i + 1])
        if marker == 0xFF:
            i += 1
            continue
        length = (int(b[i + 2]) << 8) | int(b[i + 3])
        if length < 2:
            return False
        i += 2 + length
        if marker == 0xDA:
            break
    data = b[i : end - 2]
    ff = np.flatnonzero(data[:-1] == 0xFF)
    if len(ff) and not _ALLOWED[data[ff + 1]].all():
        return False
    return True
