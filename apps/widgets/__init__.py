"""Reusable Qt widgets fed with plain arrays: camera view, joint plot, 3D/2D hand view, timeline.

Shared by the replay viewer and the recorder app; none of them knows about episode files.
"""
