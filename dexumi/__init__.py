"""dexumi: collect dexterous-manipulation data with a wearable hand exoskeleton."""

__version__ = "0.1.0"
