"""The tracking target: a ChArUco board plus optional AprilTags (36h11) on the same plane, all in the board frame.

The board frame is OpenCV's ChArUco frame (origin at the board's top-left corner, x along the squares, y down
the printed image, z into the board). Tags are given by their id, centre (x, y) in the board frame and side
(the black square's outer edge); they extend the target far beyond the board, which steadies the rotation.
Detection is OpenCV only (`cv2.aruco.CharucoDetector` for the board, `cv2.aruco.ArucoDetector` with
`DICT_APRILTAG_36h11` for the tags); `pupil-apriltags` is not needed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from dexumi.board import BoardSpec
from dexumi.errors import DexumiError


@dataclass(frozen=True)
class Tag:
    """An AprilTag lying in the board plane: id, centre (x, y) in the board frame (m), outer side (m)."""

    tag_id: int
    centre: tuple[float, float]
    size_m: float

    def corners(self) -> np.ndarray:
        """(4, 3) board-frame corners in OpenCV's marker order: top-left, top-right, bottom-right, bottom-left
        of the tag image, which lies upright in the board frame (its top towards board −y)."""
        x, y, h = self.centre[0], self.centre[1], self.size_m / 2
        return np.array([[x - h, y - h, 0], [x + h, y - h, 0], [x + h, y + h, 0], [x - h, y + h, 0]], np.float64)


@dataclass(frozen=True)
class Target:
    """A ChArUco board (`dexumi.board.BoardSpec`) and tags in its frame."""

    charuco: BoardSpec = BoardSpec()
    tags: tuple[Tag, ...] = field(default_factory=tuple)

    @classmethod
    def from_scene(cls, scene=None, tags: bool = True) -> Target:
        """The simulated rig's board and its four AprilTags (dexumi.sim.scene), in the board frame."""
        from dexumi.sim.scene import SceneConfig

        scene = scene or SceneConfig()
        b = scene.board
        T_bw = np.linalg.inv(b.T_world_board())
        out = []
        for m in scene.markers if tags else ():
            c = T_bw @ np.array([m.centre[0], m.centre[1], b.T_world_board()[2, 3], 1.0])
            out.append(Tag(m.tag_id, (float(c[0]), float(c[1])), m.size_m))
        return cls(b.spec, tuple(out))


@dataclass
class Observation:
    """What one image shows of the target: pixel points (n, 2) and their board-frame points (n, 3)."""

    image_points: np.ndarray
    object_points: np.ndarray
    board_corners: int  # ChArUco corners among the points
    tags: int  # AprilTags seen (4 points each)

    def __len__(self) -> int:
        return len(self.image_points)


SUBPIX_WIN = (4, 4)  # cornerSubPix half-window for ChArUco corners (a 9×9 window; best of 0..8 on the rig)
TAGS_BELOW = 12  # look for AprilTags only when the board gives fewer corners than this ("auto")


def release_pupil_detector(detector: Any) -> None:
    """Free a `pupil_apriltags.Detector` in the C library's order: the detector, then its tag families.

    pupil-apriltags 1.0.4 frees the families first while the detector still points at them, so its own
    `__del__` crashes the interpreter now and then (SIGSEGV in `quick_decode_uninit`; pupil-labs/apriltags#46).
    Afterwards the detector's pointer is None and its `__del__` does nothing.
    """
    ptr = getattr(detector, "tag_detector_ptr", None)
    if ptr is None:
        return
    detector.tag_detector_ptr = None
    libc = detector.libc
    libc.apriltag_detector_destroy.restype = None
    libc.apriltag_detector_destroy(ptr)
    for family, tf in detector.tag_families.items():
        destroy = getattr(libc, f"{family}_destroy", None)
        if destroy is not None:
            destroy.restype = None
            destroy(tf)
    detector.tag_families = {}


class TargetDetector:
    """Finds the target's points in an image (grey or BGR).

    ChArUco corners come from `CharucoDetector.detectBoard`, then `cv2.cornerSubPix` (on the rig this halves
    the pose error; the markers' own corners are not used: their edges sit ~0.3 % outward, a depth bias).
    AprilTags: `pupil_apriltags` when installed (~4 ms per 640×480 frame), else OpenCV's ArUco detector with
    `DICT_APRILTAG_36h11` (~30–70 ms: the tag dictionary is large); `tags="auto"` looks for them only when the
    board gives fewer than `TAGS_BELOW` corners, `"always"` on every frame, `"off"` never.
    """

    def __init__(self, target: Target, tags: str = "auto") -> None:
        if tags not in ("auto", "always", "off"):
            raise DexumiError(f"tracking: tags must be auto, always or off, not {tags!r}")
        self.target = target
        self.board = target.charuco.board()
        params = cv2.aruco.CharucoParameters()
        params.tryRefineMarkers = True
        self.charuco = cv2.aruco.CharucoDetector(self.board, params)
        self.tag_points = {t.tag_id: t.corners() for t in target.tags}
        self.tag_mode = tags if target.tags else "off"
        self.tag_backend = None
        self._pupil = self._cv_tags = None
        if self.tag_mode != "off":
            try:
                from pupil_apriltags import Detector

                self._pupil = Detector(families="tag36h11", nthreads=1, quad_decimate=2.0, refine_edges=True)
                weakref.finalize(self, release_pupil_detector, self._pupil)
                self.tag_backend = "pupil-apriltags"
            except ImportError:
                d = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11)
                self._cv_tags = cv2.aruco.ArucoDetector(d, cv2.aruco.DetectorParameters())
                self.tag_backend = "opencv"

    def _tags(self, gray: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(id, (4, 2) corners in OpenCV's marker order) of every tag of the target seen."""
        out = []
        if self._pupil is not None:
            for d in self._pupil.detect(gray):
                if d.tag_id in self.tag_points and d.hamming == 0:
                    # apriltag winds its corners the other way round: reorder to OpenCV's TL, TR, BR, BL
                    out.append((int(d.tag_id), np.asarray(d.corners, np.float64)[[1, 0, 3, 2]]))
        elif self._cv_tags is not None:
            tc, tid, _ = self._cv_tags.detectMarkers(gray)
            for c, k in zip(tc or (), np.ravel(tid) if tid is not None else ()):
                if int(k) in self.tag_points:
                    out.append((int(k), np.asarray(c, np.float64).reshape(4, 2)))
        return out

    def detect(self, image: np.ndarray) -> Observation:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        img, obj = [], []
        corners, ids, _, _ = self.charuco.detectBoard(gray)
        n_board = 0
        if ids is not None and corners is not None and len(ids) >= 4:
            o, i = self.board.matchImagePoints(corners, ids)  # type: ignore[call-overload, unused-ignore]  # OpenCV's stub wants a list; the array is what detectBoard gives
            i = cv2.cornerSubPix(
                gray,
                np.asarray(i, np.float32).reshape(-1, 1, 2),
                SUBPIX_WIN,
                (-1, -1),
                (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 0.0005),
            )
            obj.append(np.asarray(o, np.float64).reshape(-1, 3))
            img.append(np.asarray(i, np.float64).reshape(-1, 2))
            n_board = len(ids)
        n_tags = 0
        if self.tag_mode == "always" or (self.tag_mode == "auto" and n_board < TAGS_BELOW):
            for k, c in self._tags(gray):
                obj.append(self.tag_points[k])
                img.append(c)
                n_tags += 1
        if not img:
            return Observation(np.empty((0, 2)), np.empty((0, 3)), 0, 0)
        return Observation(np.concatenate(img), np.concatenate(obj), n_board, n_tags)
