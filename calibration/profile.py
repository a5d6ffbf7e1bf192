"""Calibration profiles: the format lives in the library (`dexumi.profile`); re-exported here for compatibility."""

from dexumi.profile import (FORMAT, TOP_KEYS, VERSION, CameraIntrinsics, ChannelCalibration, Profile, ProfileError,
                            load_profile, new_profile_id, profile_from_dict, save_profile, utc_now, validate_profile)

__all__ = ["FORMAT", "TOP_KEYS", "VERSION", "CameraIntrinsics", "ChannelCalibration", "Profile", "ProfileError",
           "load_profile", "new_profile_id", "profile_from_dict", "save_profile", "utc_now", "validate_profile"]
