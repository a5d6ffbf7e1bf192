"""Work around PySide6 6.12 on Python 3.11: its calls of C++ methods returning void (and some returning bool)
give back `None` (`True`/`False`) without taking a reference. Python ≥ 3.12 has immortal singletons, so this is
harmless there; on 3.11 every such call lowers None's reference count by one, and after some ten thousand
calls (a few seconds of redrawing) the interpreter aborts with "none_dealloc: deallocating None".
Measured here: 1000 `QPainter.drawLine` calls → None's count −1000.

`immortalize_singletons()` raises the counts of None, True and False by 2**40 once, as Python 3.12 does for
them (there they are never counted at all), so no amount of calls brings them to zero.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)
_BOOST = 1 << 40
_done = False


def immortalize_singletons() -> bool:
    """Make None/True/False effectively immortal on CPython < 3.12; True if applied (once per process)."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST  # ob_refcnt is the first field of every object
    _done = True
    log.debug("None/True/False made immortal (PySide6 reference-count workaround)")
    return True
