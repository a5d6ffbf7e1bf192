"""User-facing programs: the `dexumi` command, the recorder, the calibration wizard and replay."""
