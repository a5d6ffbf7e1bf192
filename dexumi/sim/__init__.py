"""The simulated 3D rig (MuJoCo): one world that is the ground truth of every sensor. See docs/simulation.md."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen on the CPU (Mesa); mujoco reads it when first imported
