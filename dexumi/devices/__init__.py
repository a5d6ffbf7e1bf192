"""Device drivers: encoder boards (`EncoderDriver` on a port spec), the emulator process, and the `cameras/`
and `pose/` sources. Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dexumi.lazy import Where, lazy_exports

_NAMES: dict[str, Where] = {
    "EncoderConfig": "dexumi.devices.encoder",
    "EncoderDriver": "dexumi.devices.encoder",
    "SimDeviceProcess": "dexumi.devices.sim",
    "SensorErrors": "dexumi.devices.simexo",
    "SIM_DEVICE_ID": "dexumi.devices.simexo",
    "sim_exoskeleton_args": "dexumi.devices.simexo",
}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:
    from dexumi.devices.encoder import EncoderConfig as EncoderConfig
    from dexumi.devices.encoder import EncoderDriver as EncoderDriver
    from dexumi.devices.sim import SimDeviceProcess as SimDeviceProcess
    from dexumi.devices.simexo import SIM_DEVICE_ID as SIM_DEVICE_ID
    from dexumi.devices.simexo import SensorErrors as SensorErrors
    from dexumi.devices.simexo import sim_exoskeleton_args as sim_exoskeleton_args
