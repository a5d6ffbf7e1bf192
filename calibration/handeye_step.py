"""The hand-eye step of the wizard: moved to `calibration.wizard_steps.handeye` (one module per step kind, beside
the run that orders the steps); its names are re-exported here for existing imports."""

from calibration.wizard_steps.handeye import SIM_FPS, HandEyeStep, live_views, profile_section, sim_views

__all__ = ["SIM_FPS", "HandEyeStep", "live_views", "profile_section", "sim_views"]
