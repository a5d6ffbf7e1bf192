"""Sync and quality assurance of recorded episodes: latency self-check, calibration drift, ranking."""
