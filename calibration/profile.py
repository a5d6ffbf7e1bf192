"""Calibration profiles: the format lives in the library (`dexumi.profile`); re-exported here for compatibility."""

from dexumi.profile import (
    FORMAT,
    HANDEYE_KEYS,
    HANDEYE_VERSION,
    TOP_KEYS,
    VERSION,
    CameraIntrinsics,
    ChannelCalibration,
    HandEye,
    Profile,
    ProfileError,
    load_profile,
    new_profile_id,
    profile_from_dict,
    save_profile,
    utc_now,
    validate_profile,
)

__all__ = [
    "FORMAT",
    "HANDEYE_KEYS",
    "HANDEYE_VERSION",
    "TOP_KEYS",
    "VERSION",
    "CameraIntrinsics",
    "ChannelCalibration",
    "HandEye",
    "Profile",
    "ProfileError",
    "load_profile",
    "new_profile_id",
    "profile_from_dict",
    "save_profile",
    "utc_now",
    "validate_profile",
]
