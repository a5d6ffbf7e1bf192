"""The visual bridge: the exoskeleton's mask and the robot hand rendered on a CPU (see docs/visual-bridge.md)."""
