"""Hand models: bundled URDFs (robot hands and their exoskeletons) and a registry to load them."""

from dexumi.hands.registry import BUNDLED, HandModel, bundled, get, load, resolve

__all__ = ["BUNDLED", "HandModel", "bundled", "get", "load", "resolve"]
