"""The simulated 3D rig (MuJoCo): one world that is the ground truth of every sensor. See docs/simulation.md."""
