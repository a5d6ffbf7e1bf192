"""Calibration procedures (GUI-free logic the wizard drives): encoders, joint map, camera intrinsics,
latency, and the simulated rig. The profile format they write is `dexumi.profile` (re-exported here for
compatibility). Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dexumi.lazy import Where, lazy_exports

_NAMES: dict[str, Where] = {
    "Profile": "dexumi.profile",
    "ProfileError": "dexumi.profile",
    "ChannelCalibration": "dexumi.profile",
    "CameraIntrinsics": "dexumi.profile",
    "load_profile": "dexumi.profile",
    "save_profile": "dexumi.profile",
    "validate_profile": "dexumi.profile",
    "CalibrationRun": "calibration.wizard_steps",
    "RunOptions": "calibration.wizard_steps",
    "BoardSpec": "calibration.board",
    "EncoderInput": "calibration.encoders",
    "fit_encoders": "calibration.encoders",
    "zero_check": "calibration.encoders",
    "fit_joint_map": "calibration.jointmap",
    "calibrate_camera": ("calibration.camera", "calibrate"),
    "HandPoses": "calibration.poses",
    "SimRig": "calibration.sim",
    "SensorErrors": "dexumi.devices.simexo",
}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:
    from calibration.board import BoardSpec as BoardSpec
    from calibration.camera import calibrate as calibrate_camera
    from calibration.encoders import EncoderInput as EncoderInput
    from calibration.encoders import fit_encoders as fit_encoders
    from calibration.encoders import zero_check as zero_check
    from calibration.jointmap import fit_joint_map as fit_joint_map
    from calibration.poses import HandPoses as HandPoses
    from calibration.sim import SimRig as SimRig
    from calibration.wizard_steps import CalibrationRun as CalibrationRun
    from calibration.wizard_steps import RunOptions as RunOptions
    from dexumi.devices.simexo import SensorErrors as SensorErrors
    from dexumi.profile import CameraIntrinsics as CameraIntrinsics
    from dexumi.profile import ChannelCalibration as ChannelCalibration
    from dexumi.profile import Profile as Profile
    from dexumi.profile import ProfileError as ProfileError
    from dexumi.profile import load_profile as load_profile
    from dexumi.profile import save_profile as save_profile
    from dexumi.profile import validate_profile as validate_profile
