"""The ChArUco board, described once: the tracker's target, the printed calibration board and the simulated rig's.

Sizes are in metres (what OpenCV's object points and the tracker speak); `from_mm` and the `*_mm` properties
serve the printing side. The board frame is OpenCV's ChArUco frame: origin at the top-left corner, x along the
squares, y down the image, z into the board.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.errors import DexumiError


@dataclass(frozen=True)
class BoardSpec:
    """A ChArUco board: squares across and down, square and marker side (m), ArUco dictionary, and whether it
    uses OpenCV's pre-4.6 layout (`legacy`: it differs from the new one only when the rows are even)."""

    squares_x: int = 7
    squares_y: int = 5
    square_m: float = 0.025
    marker_m: float = 0.01875
    dictionary: str = "DICT_5X5_100"
    legacy: bool = False

    def __post_init__(self) -> None:
        if self.squares_x < 3 or self.squares_y < 3:
            raise DexumiError("a ChArUco board needs at least 3×3 squares")
        if not 0 < self.marker_m < self.square_m:
            raise DexumiError(
                f"marker side ({self.marker_mm:g} mm) must be smaller than the square ({self.square_mm:g} mm)"
            )
        if not hasattr(cv2.aruco, self.dictionary):
            raise DexumiError(f"unknown ArUco dictionary {self.dictionary!r} (e.g. DICT_5X5_100, DICT_4X4_50)")

    @classmethod
    def from_mm(
        cls,
        squares_x: int,
        squares_y: int,
        square_mm: float,
        marker_mm: float,
        dictionary: str = "DICT_5X5_100",
        legacy: bool = False,
    ) -> BoardSpec:
        """The board with its square and marker side given in millimetres (as printed)."""
        return cls(squares_x, squares_y, square_mm / 1000.0, marker_mm / 1000.0, dictionary, legacy)

    @property
    def square_mm(self) -> float:
        return self.square_m * 1000.0

    @property
    def marker_mm(self) -> float:
        return self.marker_m * 1000.0

    @property
    def size_m(self) -> tuple[float, float]:
        return self.squares_x * self.square_m, self.squares_y * self.square_m

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.squares_x * self.square_mm, self.squares_y * self.square_mm

    @property
    def corners(self) -> int:
        """Inner (ChArUco) corners."""
        return (self.squares_x - 1) * (self.squares_y - 1)

    def board(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV board; object points in metres, origin at the board's top-left corner."""
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        b = cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_m, self.marker_m, d)
        b.setLegacyPattern(self.legacy)
        return b

    def image(self, px_per_square: int, margin_px: int = 0) -> np.ndarray:
        """The board as a grey image with exactly `px_per_square` pixels per square (+ a white margin)."""
        w, h = self.squares_x * px_per_square, self.squares_y * px_per_square
        img = self.board().generateImage((w, h), marginSize=0, borderBits=1)
        if margin_px:
            img = cv2.copyMakeBorder(img, margin_px, margin_px, margin_px, margin_px, cv2.BORDER_CONSTANT, value=255)
        return img
