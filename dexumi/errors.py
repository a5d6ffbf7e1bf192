"""User-facing errors of the core library (the CLI prints them as one line and exits non-zero)."""

import errno

from firmware_bridge.errors import BridgeError

#: errno values that mean "the disk is full" to a writer (no space, quota, file too large)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DexumiError(BridgeError):
    """A problem with the user's input, files or devices, explained in one line."""


def is_disk_full(exc: BaseException) -> bool:
    """OSError(ENOSPC) directly, or as HDF5/FFmpeg report it inside a message."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    text = str(exc)
    return "No space left" in text or "errno = 28" in text or "Disk quota" in text
