"""Episode file format v2 (v1 files still read: they have no wrist pose): names, dtypes and file naming shared by the writer, reader and recovery.

The full specification is docs/episode-format.md; this module is its single source in code.
"""

from __future__ import annotations

import re
from pathlib import Path

from dexumi.vocab import EpisodeState, Outcome

FORMAT = "dexumi-episode"
VERSION = 2  # 2: wrist pose (raw/pose, observations/wrist_pose, action_wrist_pose); 1: without

# HDF5 library-version bounds for every file we write: v1.10 objects are what SWMR needs and what Debian's
# HDF5 1.10 tools (`h5ls`, `h5dump`) read; the upper bound keeps HDF5 2.0 from using newer encodings.
LIBVER = ("v110", "v110")

# ---- file naming ------------------------------------------------------------------------------------
SUFFIX = ".h5"  # a finished episode: episode_0007.h5
PARTIAL = ".h5.partial"  # being recorded (or interrupted): SWMR-written, recoverable
RECOVERING = ".h5.recovering"  # a recovery in progress (rebuilt copy; renamed to .h5 when complete)
DISCARDED = ".h5.discarded"  # discarded by the user: kept, number stays taken
FAILED = ".h5.failed"  # a reservation that never held data (crash before the first write)
NAME_RE = re.compile(r"^episode_(\d{4,})\.h5(\.[a-z]+)?$")


def episode_name(number: int) -> str:
    return f"episode_{number:04d}"


def episode_number(path: str | Path) -> int | None:
    """The number in an episode file name (any state), or None for other files."""
    m = NAME_RE.match(Path(path).name)
    return int(m.group(1)) if m else None


def final_path(path: str | Path) -> Path:
    """episode_0007.h5.partial (or .recovering) → episode_0007.h5."""
    p = Path(path)
    n = episode_number(p)
    if n is None:
        return p.with_suffix(".h5") if p.suffix != ".h5" else p
    return p.with_name(episode_name(n) + SUFFIX)


# ---- root attributes --------------------------------------------------------------------------------
A_FORMAT = "format"
A_VERSION = "format_version"
A_STATE = "state"  # recording | final | recovered
A_CREATED = "created_utc"
A_TASK = "task"
A_OPERATOR = "operator"
A_OUTCOME = "outcome"  # success | failure | unknown
A_NOTES = "notes"
A_HAND = "robot_hand"
A_EXO = "exoskeleton"
A_FPS = "nominal_fps"
A_SOFTWARE = "software_version"
A_PROFILE = "calibration_profile_id"
A_NUMBER = "episode_number"
A_MAIN_CAMERA = "main_camera"
A_CLOCK = "clock"
A_DURATION = "duration_s"
A_STOP_REASON = "stop_reason"
OUTCOMES = tuple(m.value for m in Outcome)  # success, failure, unknown
STATES = tuple(m.value for m in EpisodeState)  # recording, final, recovered

# ---- aligned training view ----------------------------------------------------------------------------
TIMESTAMPS = "timestamps"
ACTION = "action"
QPOS = "observations/qpos"
EXO_JOINTS = "observations/exo_joints"
VALID = "observations/valid"
IMAGES = "observations/images"  # /<cam>: int64 (T,) index into /raw/cameras/<cam>/jpeg
IMAGE_OFFSETS = "observations/image_offset_s"  # /<cam>: float32 (T,) image time − timestamp

# ---- raw streams ----------------------------------------------------------------------------------------
ENCODER = "raw/encoder"
ENCODER_FIELDS = {  # name: (dtype, per-row width key or None, unit)
    "host_time": ("f8", None, "s"),
    "device_time_us": ("i8", None, "us"),
    "mapped_time": ("f8", None, "s"),
    "index": ("i8", None, "1"),
    "segment": ("i4", None, "1"),
    "raw": ("i4", "channels", "counts"),
    "angles": ("f8", "joints", "rad"),
}
ENCODER_GAPS = "raw/encoder/gaps"  # (G, 2) float64 [start, end] host seconds
CAMERAS = "raw/cameras"  # /<cam>/{jpeg, grab_time, mapped_time, index}
CAMERA_FIELDS = {"grab_time": ("f8", "s"), "mapped_time": ("f8", "s"), "index": ("i8", "1")}
FRAMES = "jpeg"

# ---- text and reports -------------------------------------------------------------------------------------
META = "meta"
CALIBRATION_PROFILE = "meta/calibration_profile"  # YAML text (empty if none)
RETARGET_MAP = "meta/retarget_map"  # YAML text
SYNC_REPORT = "meta/sync_report"  # JSON text
STATS = "meta/stats"  # JSON text
SESSION = "meta/session"  # JSON text: the recording configuration

ENCODER_CHUNK = 4096
CAMERA_CHUNK = 256

# ---- wrist pose (format v2; the modules dexumi.episode.pose_stream / pose_view hold the details) --------
POSE = "raw/pose"  # /<name>/{index, device_time, host_time, mapped_time, segment, position, orientation, ...}
WRIST_POSE = "observations/wrist_pose"  # /<name>/{position, orientation, valid}
ACTION_WRIST_POSE = "action_wrist_pose"  # /<name>/{absolute, relative, valid}
