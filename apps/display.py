"""The one display check every GUI command makes before Qt starts.

Without a display Qt either aborts the process (SIGABRT, exit 134) or opens a window nobody can see and
never returns. A GUI command therefore first calls `require_display`: with no DISPLAY/WAYLAND_DISPLAY and
QT_QPA_PLATFORM not explicitly a headless platform, it is a one-line error (exit 2) that says what to do.
Commands that only render to a file (`--screenshot`) switch to the offscreen platform instead.
"""

from __future__ import annotations

import os

from dexumi.errors import DexumiError

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")  # Qt platforms that need no display


def has_display(env: dict[str, str] | None = None) -> bool:
    """True when Qt can show windows: an X or Wayland display, or a platform that needs none."""
    env = os.environ if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in HEADLESS_PLATFORMS:
        return True
    if platform.startswith("wayland"):
        return bool(env.get("WAYLAND_DISPLAY"))
    if platform == "xcb":
        return bool(env.get("DISPLAY"))
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def require_display(alternative: str, *, render_only: bool = False) -> None:
    """Raise DexumiError (one line) unless a window can be shown. `alternative`: the headless way to do the
    same ("use --headless"). `render_only`: the command draws into a file, so offscreen rendering will do."""
    if has_display():
        return
    if render_only:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    raise DexumiError(
        f"no display (DISPLAY and WAYLAND_DISPLAY are not set): {alternative}, run it on a desktop, "
        "or set QT_QPA_PLATFORM=offscreen"
    )
