"""The calibration wizard (Qt): a stepper over `calibration.wizard_steps` with live feedback."""
