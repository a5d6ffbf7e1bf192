"""Bundled hand models (robot hands and their exoskeletons), models from installed packages
(`dexumi.hands.packaged`), and loading any URDF by name or path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dexumi.errors import DexumiError
from dexumi.hands import packaged
from dexumi.kinematics import HandKinematics

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class HandModel:
    """A bundled model: its name, kind (robot | exoskeleton), URDF path and paired model."""

    name: str
    kind: str
    path: Path
    pair: str
    description: str


BUNDLED: tuple[HandModel, ...] = (
    HandModel(
        "inspire_like",
        "robot",
        MODELS_DIR / "inspire_like.urdf",
        "inspire_exo",
        "Inspire RH56-class linkage hand: 6 actuated / 12 joints (mimic)",
    ),
    HandModel(
        "inspire_exo",
        "exoskeleton",
        MODELS_DIR / "inspire_exo.urdf",
        "inspire_like",
        "exoskeleton for inspire_like: 6 encoders / 12 joints (mimic)",
    ),
    HandModel(
        "xhand_like", "robot", MODELS_DIR / "xhand_like.urdf", "xhand_exo", "XHand-class fully actuated hand: 12 joints"
    ),
    HandModel(
        "xhand_exo",
        "exoskeleton",
        MODELS_DIR / "xhand_exo.urdf",
        "xhand_like",
        "exoskeleton for xhand_like: 12 encoders",
    ),
)


def bundled() -> tuple[HandModel, ...]:
    """Every bundled model."""
    return BUNDLED


def get(name: str) -> HandModel:
    """A bundled model by name; DexumiError lists the known names."""
    for m in BUNDLED:
        if m.name == name:
            return m
    known = [m.name for m in BUNDLED] + [m.name for m in packaged.PACKAGED]
    raise DexumiError(f"no bundled hand model '{name}' (known: {', '.join(known)}; or give a path to a .urdf file)")


def resolve(ref: str | Path) -> Path:
    """URDF path of a bundled model name or of a user file path."""
    s = str(ref)
    if any(m.name == s for m in BUNDLED):
        return get(s).path
    from_package = packaged.find(s)
    if from_package is not None:
        return from_package.path()
    p = Path(s)
    if p.suffix.lower() == ".urdf" or p.exists() or "/" in s:
        if not p.is_file():
            raise DexumiError(f"{p}: URDF file not found")
        return p
    return get(s).path  # raises with the list of names


def load(ref: str | Path, *, mimic: bool = True) -> HandKinematics:
    """Kinematics of a bundled model (by name) or any URDF (by path)."""
    kin = HandKinematics.from_urdf(resolve(ref), mimic=mimic)
    if any(m.name == str(ref) for m in BUNDLED) or packaged.find(str(ref)) is not None:
        kin.name = str(ref)
    return kin
