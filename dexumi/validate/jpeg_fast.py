"""Deciding "this JPEG decodes" without decoding every frame of a camera stream.

libjpeg fails (returns no image) only on header problems: markers, tables, frame and scan parameters. Damage in
the entropy-coded data of a baseline, single-scan JPEG is a warning: it decodes (to wrong pixels), at the size
the header declares. A camera writes the same header (tables, size, sampling) on every frame, so a frame whose
header bytes equal those of a frame that really decoded at the expected size, whose structure is complete
(`structure_ok`) and whose entropy data holds no marker but restarts, decodes exactly as that one did: its
verdict is known without the ~0.6 ms decode. Every other frame (a new header, a progressive or damaged one) is
decoded as before. Same verdicts as decoding everything (tests/test_validate_fast_decode.py fuzzes it).
"""

from __future__ import annotations

import cv2
import numpy as np

from dexumi.validate.jpeg import soi_eoi_bounds, structure_ok

_SCAN_OK = np.zeros(256, bool)  # what may follow 0xFF inside the entropy data of a baseline single scan
_SCAN_OK[[0x00, 0xFF]] = True
_SCAN_OK[0xD0:0xD8] = True
_BASELINE = (0xC0, 0xC1)  # SOF0 / SOF1 (Huffman, sequential)


def _header_end(b: np.ndarray, n: int) -> tuple[int, bool]:
    """Offset just past the first SOS segment (walking the header as `structure_ok` does, within the first `n`
    bytes) and whether the frame is baseline/extended sequential; (0, False) when the walk fails."""
    i, baseline = 2, False
    while True:
        if i + 4 > n or b[i] != 0xFF:
            return 0, False
        marker = int(b[i + 1])
        if marker == 0xFF:
            i += 1
            continue
        length = (int(b[i + 2]) << 8) | int(b[i + 3])
        if length < 2:
            return 0, False
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            baseline = marker in _BASELINE
        i += 2 + length
        if marker == 0xDA:
            return i, baseline


class DecodeChecker:
    """`ok(buf)` is what `structure_ok(buf) and imdecode(buf, flag) is not None and shape == want` would say, per
    camera stream."""

    def __init__(self, flag: int, want: tuple[int, int] | None) -> None:
        self.flag, self.want = flag, want
        self._good: set[bytes] = set()
        self.decoded = 0  # frames really decoded (for the benchmark / tests)

    def _decode(self, buf: np.ndarray) -> bool:
        self.decoded += 1
        img = cv2.imdecode(buf, self.flag)
        return img is not None and (self.want is None or img.shape[:2] == self.want)

    def _slow(self, b: np.ndarray) -> bool:
        return structure_ok(b) and self._decode(b)

    def ok(self, buf: np.ndarray) -> bool:
        bounds = soi_eoi_bounds(buf)
        if bounds is None:
            return False
        b, tail = bounds
        end, baseline = _header_end(b, tail)
        if not end or not baseline:
            return self._slow(b)
        data = b[end : tail - 2]
        ff = np.flatnonzero(data[:-1] == 0xFF)
        if len(ff) and not _SCAN_OK[data[ff + 1]].all():
            return self._slow(b)  # a second scan or a stray marker: the full check and libjpeg decide
        # here `structure_ok(b)` holds: same SOI/EOI/header walk, and every marker in the scan is one it allows
        key = b[:end].tobytes()
        if key in self._good:
            return True
        good = self._decode(b)
        if good:
            self._good.add(key)
        return good
