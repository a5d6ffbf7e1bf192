"""Hand models with real meshes that come from an installed Python package, used by name like a bundled model.

dexumi ships none of their files: a model resolves to the URDF inside the package the user installed (its own
licence applies), and names the package to install when it is absent. `example-robot-data` (BSD-3-Clause)
carries the Wonik Allegro hand v4 with its STL meshes: `pip install 'dexumi[models]'`.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from dexumi.errors import DexumiError

_ERD_ALLEGRO = "cmeel.prefix/share/example-robot-data/robots/allegro_hand_description/urdf"


@dataclass(frozen=True)
class PackagedModel:
    """A hand model found inside an installed distribution: its name, kind, where it lives and its licence."""

    name: str
    kind: str
    distribution: str
    relative_path: str
    licence: str
    pair: str
    description: str

    def installed(self) -> bool:
        return self._file() is not None

    def path(self) -> Path:
        """The URDF inside the installed package; DexumiError naming the package when it is not installed."""
        p = self._file()
        if p is None:
            raise DexumiError(
                f"hand model '{self.name}' comes from the {self.distribution} package, which is not installed "
                f"(pip install 'dexumi[models]' or pip install {self.distribution})"
            )
        return p

    def _file(self) -> Path | None:
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None
        p = Path(str(dist.locate_file(self.relative_path)))
        return p if p.is_file() else None


PACKAGED: tuple[PackagedModel, ...] = (
    PackagedModel(
        "allegro_right",
        "robot",
        "example-robot-data",
        f"{_ERD_ALLEGRO}/allegro_right_hand.urdf",
        "BSD-3-Clause",
        "inspire_exo",
        "Wonik Allegro hand v4, right (example-robot-data): 16 joints, STL meshes",
    ),
    PackagedModel(
        "allegro_left",
        "robot",
        "example-robot-data",
        f"{_ERD_ALLEGRO}/allegro_left_hand.urdf",
        "BSD-3-Clause",
        "inspire_exo",
        "Wonik Allegro hand v4, left (example-robot-data): 16 joints, STL meshes",
    ),
)


def packaged() -> tuple[PackagedModel, ...]:
    """Every hand model dexumi knows in another package (installed or not)."""
    return PACKAGED


def find(name: str) -> PackagedModel | None:
    return next((m for m in PACKAGED if m.name == name), None)


__all__ = ["PACKAGED", "PackagedModel", "find", "packaged"]
