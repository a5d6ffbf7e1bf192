"""Camera pose from images: a known target (ChArUco board + AprilTags) by PnP, trajectory metrics (APE/RPE),
and offline structure from motion (docs/pose.md)."""
