"""The replay viewer: `dexumi replay EPISODE|DIR` (window), `--screenshot`, `--headless --out clip.mp4`."""
