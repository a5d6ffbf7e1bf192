"""Plug-in points for learned segmentation and inpainting (SAM2 / ProPainter class models).

The rendered mask and the push-pull fill need no GPU and nothing here is required. Where a GPU and such a
model exist, an object with the matching method goes into `VisualBridge(segmenter=..., inpainter=...)`:

- `Segmenter.refine(bgr, mask) -> mask`: refine the rendered wearer mask with image evidence (e.g. SAM2
  prompted with points sampled inside the rendered mask, and the mask itself as the box/mask prompt);
- `Inpainter.inpaint(bgr, hole) -> bgr`: fill the hole (e.g. ProPainter over a clip; a per-frame model here).

`load_plugin("package.module:factory")` imports a factory by name (never pickles or downloads anything);
`gpu_available()` says whether a CUDA device is usable (torch, if installed), with the reason when not.
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

import numpy as np

from dexumi.errors import DexumiError


@runtime_checkable
class Segmenter(Protocol):
    def refine(self, bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """A bool H×W mask of the wearer (exoskeleton + hand) from the image and the rendered mask."""
        ...


@runtime_checkable
class Inpainter(Protocol):
    def inpaint(self, bgr: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """The BGR image with the `hole` pixels filled."""
        ...


def gpu_available() -> tuple[bool, str]:
    """(usable, why not): a CUDA device through torch."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]  # optional, typed when installed
    except ImportError:
        return False, "torch is not installed"
    try:
        if torch.cuda.is_available():
            return True, torch.cuda.get_device_name(0)
    except Exception as exc:  # noqa: BLE001 - a broken driver is "no GPU"
        return False, f"CUDA unusable: {exc}"
    return False, "no CUDA device"


def load_plugin(ref: str, kind: type) -> object:
    """Instantiate `module:factory` and check it implements `kind` (Segmenter or Inpainter)."""
    mod, _, attr = ref.partition(":")
    if not mod or not attr:
        raise DexumiError(f"plug-in '{ref}': give it as package.module:factory")
    try:
        factory = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise DexumiError(f"plug-in '{ref}': {exc}") from None
    obj = factory()
    if not isinstance(obj, kind):
        raise DexumiError(
            f"plug-in '{ref}' is not a {kind.__name__} (needs a {'refine' if kind is Segmenter else 'inpaint'} method)"
        )
    return obj
