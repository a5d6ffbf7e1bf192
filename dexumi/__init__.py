"""dexumi: collect dexterous-manipulation data with a wearable hand exoskeleton.

The main job from Python (docs/api.md):

    import dexumi
    with dexumi.RecordingSession(dexumi.SessionConfig(out_dir="recordings", sim=True)) as session:
        session.start_episode(task="pick"); time.sleep(2); path = session.stop_episode("success")
    with dexumi.open_episode(path) as episode:
        print(episode.action().shape, dexumi.validate_file(path).level)

Names are imported lazily on first use, so `import dexumi` stays light (no Qt, MuJoCo or pinocchio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dexumi.errors import DexumiError as DexumiError
from dexumi.lazy import Where, lazy_exports

__version__ = "0.1.0"

# public name → the module that defines it, or (module, its name there); imported on first attribute access
_LAZY: dict[str, Where] = {
    # devices: encoder boards by port spec, cameras and pose sources by camera/pose spec
    "EncoderConfig": "dexumi.devices.encoder",
    "EncoderDriver": "dexumi.devices.encoder",
    "open_encoder": "dexumi.api",
    "CameraSource": "dexumi.devices.cameras",
    "FrameGrabber": "dexumi.devices.cameras",
    "list_cameras": "dexumi.devices.cameras",
    "make_camera": "dexumi.devices.cameras",
    "open_camera": "dexumi.devices.cameras",
    "PoseSource": "dexumi.devices.pose",
    "make_pose": "dexumi.devices.pose",
    "open_pose": "dexumi.devices.pose",
    "port_scheme": "firmware_bridge.transports",
    "is_sim_port": "firmware_bridge.transports",
    # samples
    "EncoderBatch": "dexumi.types",
    "CameraFrame": "dexumi.types",
    "StreamStats": "dexumi.types",
    "EncoderCalibration": "dexumi.types",
    # recording
    "SessionConfig": "dexumi.session.config",
    "SessionStatus": "dexumi.session.config",
    "RecordingSession": "dexumi.session.session",
    # episodes
    "Episode": "dexumi.episode",
    "EpisodeMeta": "dexumi.episode",
    "open_episode": "dexumi.episode",
    "recover_path": "dexumi.episode.recover",
    # retargeting
    "Retargeter": "dexumi.retarget",
    "RetargetMap": "dexumi.retarget",
    "load_map": "dexumi.retarget",
    "bundled_map": "dexumi.session.retarget",
    "HandModel": "dexumi.hands",
    "load_hand": ("dexumi.hands", "load"),
    # checking and exporting
    "ValidateConfig": "dexumi.validate",
    "EpisodeReport": "dexumi.validate",
    "validate_file": "dexumi.validate",
    "validate_paths": "dexumi.validate",
    "ExportOptions": "dexumi.export",
    "ExportSummary": "dexumi.export",
    "export_paths": "dexumi.export",
    "EXPORT_FORMATS": ("dexumi.export.plan", "FORMATS"),
    # calibration profiles
    "Profile": "dexumi.profile",
    "ProfileError": "dexumi.profile",
    "ChannelCalibration": "dexumi.profile",
    "CameraIntrinsics": "dexumi.profile",
    "load_profile": "dexumi.profile",
    "save_profile": "dexumi.profile",
    "validate_profile": "dexumi.profile",
    # the vocabulary
    "Protocol": "dexumi.vocab",
    "SessionState": "dexumi.vocab",
    "RetargetMode": "dexumi.vocab",
    "Outcome": "dexumi.vocab",
    "CheckLevel": "dexumi.vocab",
    "FrameEncoding": "dexumi.vocab",
    "RecorderState": "dexumi.vocab",
    "EpisodeState": "dexumi.vocab",
    "VocabularyError": "dexumi.vocab",
}

__all__ = ["DexumiError", "__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from dexumi.api import open_encoder as open_encoder
    from dexumi.devices.cameras import CameraSource as CameraSource
    from dexumi.devices.cameras import FrameGrabber as FrameGrabber
    from dexumi.devices.cameras import list_cameras as list_cameras
    from dexumi.devices.cameras import make_camera as make_camera
    from dexumi.devices.cameras import open_camera as open_camera
    from dexumi.devices.encoder import EncoderConfig as EncoderConfig
    from dexumi.devices.encoder import EncoderDriver as EncoderDriver
    from dexumi.devices.pose import PoseSource as PoseSource
    from dexumi.devices.pose import make_pose as make_pose
    from dexumi.devices.pose import open_pose as open_pose
    from dexumi.episode import Episode as Episode
    from dexumi.episode import EpisodeMeta as EpisodeMeta
    from dexumi.episode import open_episode as open_episode
    from dexumi.episode.recover import recover_path as recover_path
    from dexumi.export import ExportOptions as ExportOptions
    from dexumi.export import ExportSummary as ExportSummary
    from dexumi.export import export_paths as export_paths
    from dexumi.export.plan import FORMATS as EXPORT_FORMATS
    from dexumi.hands import HandModel as HandModel
    from dexumi.hands import load as load_hand
    from dexumi.profile import CameraIntrinsics as CameraIntrinsics
    from dexumi.profile import ChannelCalibration as ChannelCalibration
    from dexumi.profile import Profile as Profile
    from dexumi.profile import ProfileError as ProfileError
    from dexumi.profile import load_profile as load_profile
    from dexumi.profile import save_profile as save_profile
    from dexumi.profile import validate_profile as validate_profile
    from dexumi.retarget import Retargeter as Retargeter
    from dexumi.retarget import RetargetMap as RetargetMap
    from dexumi.retarget import load_map as load_map
    from dexumi.session.config import SessionConfig as SessionConfig
    from dexumi.session.config import SessionStatus as SessionStatus
    from dexumi.session.retarget import bundled_map as bundled_map
    from dexumi.session.session import RecordingSession as RecordingSession
    from dexumi.types import CameraFrame as CameraFrame
    from dexumi.types import EncoderBatch as EncoderBatch
    from dexumi.types import EncoderCalibration as EncoderCalibration
    from dexumi.types import StreamStats as StreamStats
    from dexumi.validate import EpisodeReport as EpisodeReport
    from dexumi.validate import ValidateConfig as ValidateConfig
    from dexumi.validate import validate_file as validate_file
    from dexumi.validate import validate_paths as validate_paths
    from dexumi.vocab import CheckLevel as CheckLevel
    from dexumi.vocab import EpisodeState as EpisodeState
    from dexumi.vocab import RecorderState as RecorderState
    from dexumi.vocab import VocabularyError as VocabularyError
    from dexumi.vocab import FrameEncoding as FrameEncoding
    from dexumi.vocab import Outcome as Outcome
    from dexumi.vocab import Protocol as Protocol
    from dexumi.vocab import RetargetMode as RetargetMode
    from dexumi.vocab import SessionState as SessionState
    from firmware_bridge.transports import is_sim_port as is_sim_port
    from firmware_bridge.transports import port_scheme as port_scheme
