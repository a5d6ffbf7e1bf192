"""Device spec strings: one scheme registry and one `key=value` option grammar (pyserial's `serial_for_url`).

Ports (`firmware_bridge.transports`), cameras (`dexumi.devices.cameras.spec`) and pose sources
(`dexumi.devices.pose.spec`) each keep a `SchemeRegistry` of handlers; the text after `scheme:` is the
handler's, and `parse_options` reads `KEY=VALUE,...` the same way for all of them.

    registry = SchemeRegistry("camera", BridgeError)
    registry.register("sim", lambda body, spec: ...)
    registry.resolve("sim:latency=40ms")     # → the "sim" handler's result
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from firmware_bridge.errors import BridgeError

T = TypeVar("T")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_DURATION = re.compile(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)\s*(us|ms|s)\s*")


def split_scheme(spec: str) -> tuple[str, str]:
    """'sim:latency=40ms' → ('sim', 'latency=40ms'); 'sim' → ('sim', ''); no scheme → ('', spec)."""
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", spec)
    if m:
        return m.group(1).lower(), spec[m.end() :]
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", spec):
        return spec.lower(), ""
    return "", spec


def parse_options(
    text: str, what: str, hint: str, error: type[BridgeError] = BridgeError, flags: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """'a=1, b=2' → [('a', '1'), ('b', '2')]; a bare word in `flags` → (word, ''); else one-line `error`."""
    out = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep and key in flags:
            out.append((key, ""))
            continue
        if not sep or not value:
            raise error(f"{what} spec: {item.strip()!r} is not key=value ({hint})")
        out.append((key, value))
    return out


def parse_duration(
    text: str, key: str, what: str, error: type[BridgeError] = BridgeError, example: str = "40ms"
) -> float:
    """'40ms' → 0.04; a bare number is refused (milliseconds or seconds? say which)."""
    m = _DURATION.fullmatch(text)
    if not m:
        secs = parse_duration(example, key, what)
        raise error(f"{what} spec: {key}={text!r} needs a number with a unit, e.g. {key}={example} or {key}={secs:g}s")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_number(text: str, key: str, kind: type, what: str, error: type[BridgeError] = BridgeError) -> float | int:
    """int('12') or float('0.5'), or a one-line error naming the key."""
    try:
        value: float | int = kind(text)
        return value
    except ValueError:
        raise error(f"{what} spec: {key}={text!r} is not {'an integer' if kind is int else 'a number'}") from None


def parse_size(
    text: str, what: str, error: type[BridgeError] = BridgeError, example: str = "1280x800"
) -> tuple[int, int]:
    """'640x480' → (640, 480)."""
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m:
        raise error(f"{what} spec: size={text!r} must look like {example}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Scheme(Generic[T]):
    """One scheme: its handler `(body, whole spec) → T` and the forms it accepts (for error messages)."""

    name: str
    handler: Callable[[str, str], T]
    forms: tuple[str, ...]


class SchemeRegistry(Generic[T]):
    """Scheme name → handler; `fallback` classifies specs without a scheme (a path, a device index)."""

    def __init__(self, what: str, error: type[BridgeError] = BridgeError) -> None:
        self.what = what
        self.error = error
        self._schemes: dict[str, Scheme[T]] = {}
        self._fallbacks: list[tuple[Callable[[str], bool], Scheme[T]]] = []

    def register(self, name: str, handler: Callable[[str, str], T], *forms: str) -> None:
        """`handler(body, spec)` makes the object for `name:body` (and for bare `name`)."""
        self._schemes[name] = Scheme(name, handler, forms or (f"{name}[:...]",))

    def register_fallback(self, matches: Callable[[str], bool], handler: Callable[[str, str], T], *forms: str) -> None:
        """A handler for specs without a registered scheme that `matches(spec)` accepts (tried in order)."""
        self._fallbacks.append((matches, Scheme("", handler, forms)))

    @property
    def forms(self) -> list[str]:
        return [f for s in (*self._schemes.values(), *(s for _, s in self._fallbacks)) for f in s.forms]

    def hint(self) -> str:
        forms = self.forms
        return ", ".join(forms[:-1]) + f" or {forms[-1]}" if len(forms) > 1 else "".join(forms)

    def scheme_of(self, spec: str) -> str:
        """The registered scheme that handles `spec` ('' for a fallback such as a serial path)."""
        text = str(spec).strip()
        scheme, _ = split_scheme(text)
        if scheme in self._schemes:
            return scheme
        for matches, _s in self._fallbacks:
            if matches(text):
                return ""
        raise self.error(f"unknown {self.what} spec {text!r}: use {self.hint()}")

    def resolve(self, spec: str) -> T:
        """The handler's object for `spec`, or a one-line error listing the valid forms."""
        text = str(spec).strip()
        scheme, body = split_scheme(text)
        if scheme in self._schemes:
            return self._schemes[scheme].handler(body, text)
        for matches, s in self._fallbacks:
            if matches(text):
                return s.handler(text, text)
        raise self.error(f"unknown {self.what} spec {text!r}: use {self.hint()}")
