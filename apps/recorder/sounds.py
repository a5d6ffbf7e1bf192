"""Audible cues: tones made with numpy, spoken phrases where a TTS engine (espeak-ng) is installed.

Cues: `start`, `stop`, `success`, `failure`, `countdown`, `error` (device lost, camera lost, disk low), plus
spoken text (`say`). Every cue goes through `Cues.play`, which records it in `history` (what tests and the
status bar look at), and is silent when muted. Playing, in order of preference:

1. Qt Multimedia's `QSoundEffect` (PySide6-Addons; not part of PySide6-Essentials),
2. a system player: `pw-play`, `paplay` or `aplay` (PipeWire, PulseAudio, ALSA),
3. none: the cue is logged (and still in `history`); `dexumi record` says once that it has no player.

WAV files are written once per cue into a cache folder (16-bit mono PCM, 22.05 kHz).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
RATE = 22050


@dataclass(frozen=True)
class Tone:
    """A cue: a sequence of (frequency Hz, seconds) notes; 0 Hz is a pause."""

    notes: tuple[tuple[float, float], ...]
    volume: float = 0.5


TONES = {
    "start": Tone(((660, 0.09), (0, 0.03), (880, 0.14))),
    "stop": Tone(((880, 0.09), (0, 0.03), (660, 0.14))),
    "success": Tone(((523, 0.08), (659, 0.08), (784, 0.16))),
    "failure": Tone(((392, 0.14), (0, 0.03), (311, 0.22))),
    "countdown": Tone(((1000, 0.06),)),
    "error": Tone(((880, 0.12), (0, 0.05), (880, 0.12), (0, 0.05), (880, 0.12)), volume=0.7),
}


def synth(tone: Tone, rate: int = RATE) -> np.ndarray:
    """int16 samples of a tone, each note with 5 ms raised-cosine edges (no clicks)."""
    parts = []
    for f, dur in tone.notes:
        n = int(round(dur * rate))
        t = np.arange(n) / rate
        x = np.sin(2 * np.pi * f * t) if f > 0 else np.zeros(n)
        edge = min(n // 2, int(0.005 * rate))
        if edge > 0 and f > 0:
            ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
            x[:edge] *= ramp
            x[-edge:] *= ramp[::-1]
        parts.append(x)
    y = np.concatenate(parts) if parts else np.zeros(0)
    return np.round(y * tone.volume * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, np.int16).tobytes())
    return path


def tts_engine() -> str | None:
    for exe in ("espeak-ng", "espeak"):
        p = shutil.which(exe)
        if p:
            return p
    return None


def speak_to_wav(text: str, path: Path, engine: str | None = None) -> Path | None:
    """Render `text` with espeak-ng into a WAV; None without an engine or on failure."""
    engine = engine or tts_engine()
    if engine is None:
        return None
    try:
        subprocess.run([engine, "-w", str(path), "-s", "165", text], check=True, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("tts failed: %s", exc)
        return None
    return path


def _player() -> tuple[str, object] | None:
    try:
        from PySide6 import QtMultimedia  # type: ignore[attr-defined]

        return "qt", QtMultimedia
    except ImportError:
        pass
    for exe in ("pw-play", "paplay", "aplay"):
        p = shutil.which(exe)
        if p:
            return "cmd", [p] + (["-q"] if exe == "aplay" else [])
    return None


class Cues:
    """Plays cues off the caller's thread; `history` lists (monotonic time, name, how) of every cue asked for."""

    def __init__(self, muted: bool = False, speech: bool = True, cache: Path | None = None) -> None:
        self.muted = muted
        self.speech = speech
        self.cache = Path(cache or Path(tempfile.gettempdir()) / f"dexumi-cues-{os.getuid()}")
        self.cache.mkdir(parents=True, exist_ok=True)
        self.player = _player()
        self.engine = tts_engine()
        self.history: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._effects: dict[str, object] = {}
        self.spoken: list[tuple[Path, threading.Thread]] = []  # (WAV, its rendering thread) of each `say`

    @property
    def backend(self) -> str:
        return "none" if self.player is None else "qt" if self.player[0] == "qt" else Path(self.player[1][0]).name

    def wav(self, name: str) -> Path:
        path = self.cache / f"{name}.wav"
        if not path.exists():
            write_wav(path, synth(TONES[name]))
        return path

    def play(self, name: str) -> str:
        """Queue a tone cue; returns how it was played: muted | qt | <player> | none."""
        how = "muted" if self.muted else self.backend
        self.history.append((time.monotonic(), name, how))
        if how == "muted":
            return how
        path = self.wav(name)  # made even without a player: the cue exists, only the speaker is missing
        if how == "none":
            log.info("cue %s (no audio player)", name)
            return how
        self._play_file(path, name)
        return how

    def say(self, text: str) -> str:
        """Speak `text` where a TTS engine exists (muted: nothing). The WAV is rendered even without a player."""
        if self.muted:
            how = "muted"
        elif not (self.speech and self.engine):
            how = "no-tts"
        else:
            how = self.backend
        self.history.append((time.monotonic(), f"say:{text}", how))
        if how in ("muted", "no-tts"):
            return how
        path = self.cache / f"say-{hashlib.sha1(text.encode()).hexdigest()[:16]}.wav"

        def work() -> None:
            if path.exists() or speak_to_wav(text, path, self.engine):
                if self.player is not None:
                    self._play_file(path, None)

        t = threading.Thread(target=work, name="tts", daemon=True)
        t.start()
        self.spoken.append((path, t))
        return how

    def _play_file(self, path: Path, name: str | None) -> None:
        kind, impl = self.player
        if kind == "qt":
            from PySide6 import QtCore

            eff = self._effects.get(str(path))
            if eff is None:
                eff = impl.QSoundEffect()
                eff.setSource(QtCore.QUrl.fromLocalFile(str(path)))
                self._effects[str(path)] = eff
            eff.play()
            return

        def run() -> None:
            try:
                subprocess.run([*impl, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
            except (OSError, subprocess.SubprocessError) as exc:
                log.info("cue %s: %s", name or path.name, exc)

        threading.Thread(target=run, name="cue", daemon=True).start()
