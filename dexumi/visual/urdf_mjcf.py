"""A URDF's visual geometry as MJCF bodies: moved to `dexumi.sim.urdf_mjcf` (the simulated rig and the visual
bridge both render hands with it); its names are re-exported here for existing imports."""

from dexumi.sim.urdf_mjcf import DEFAULT_RGBA, MESH_FORMATS, HandBodies, hand_bodies, rpy_quat

__all__ = ["DEFAULT_RGBA", "MESH_FORMATS", "HandBodies", "hand_bodies", "rpy_quat"]
