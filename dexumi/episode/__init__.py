"""Episode files: schema v1, crash-safe writer, reader, recovery and numbering (docs/episode-format.md)."""

from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.reader import Episode, open_episode

__all__ = ["CameraLayout", "EncoderLayout", "Episode", "EpisodeMeta", "open_episode"]
