"""Calibration procedures and profiles (GUI-free logic the wizard drives)."""
