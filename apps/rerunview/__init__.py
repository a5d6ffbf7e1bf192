"""Bridges to the rerun viewer (`rerun-sdk`): whole episodes (`episode.py`) and the live recorder (`live.py`)."""
