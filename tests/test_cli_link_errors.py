"""Bad input on the link commands: one line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
import serial

from conftest import DEXUMI, REPO


def dexumi(*args: object, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO, **kw)


def assert_one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    lines = [line for line in p.stderr.strip().splitlines() if "error" in line]
    assert len(lines) == 1, p.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_port():
    assert_one_line_error(dexumi("stream", "--port", "/dev/ttyACM97", "--seconds", 1), "does not exist")


def test_unknown_port_spec():
    assert_one_line_error(dexumi("stream", "--port", "COM3", "--seconds", 1), "unknown port spec")


def test_busy_port(sim_device):
    dev = sim_device("--channels", 4)
    with serial.Serial(dev.port, exclusive=True):
        assert_one_line_error(dexumi("stream", "--port", dev.port, "--seconds", 1), "busy")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
    reason="needs root, setpriv and /usr/bin/python3 to run as an unprivileged user",
)
def test_permission_denied_hints_at_dialout(sim_device):
    dev = sim_device("--channels", 4)
    site = f"{sys.prefix}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{site}", "HOME": "/tmp"}
    p = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-m",
            "apps.cli.main",
            "stream",
            "--port",
            os.path.realpath(dev.port),
            "--seconds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/tmp",
        env=env,
    )
    if "No module named" in p.stderr or "ImportError" in p.stderr:
        pytest.skip(f"the system python cannot import the environment's packages: {p.stderr.strip()[-120:]}")
    assert_one_line_error(p, "permission denied", "dialout")


def _fake_port(payload: bytes | None):
    """A pty whose other end sends `payload` over and over (or nothing)."""
    master, slave = os.openpty()
    import tty

    tty.setraw(slave)
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            if payload:
                try:
                    os.write(master, payload)
                except OSError:
                    return
            time.sleep(0.02)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return os.ttyname(slave), stop, (master, slave)


@pytest.mark.parametrize(
    "payload,needle",
    [
        (b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n", "does not speak"),
        (None, "no data from"),
    ],
)
def test_a_device_speaking_something_else(payload, needle):
    path, stop, fds = _fake_port(payload)
    try:
        assert_one_line_error(dexumi("stream", "--port", path, "--seconds", 1), needle)
    finally:
        stop.set()
        for fd in fds:
            os.close(fd)


def test_profile_with_the_wrong_channel_count(sim_device, tmp_path):
    from calibration.profile import ChannelCalibration, Profile, save_profile

    prof = Profile(
        "p1", "2026-01-01T00:00:00Z", {"id": "x"}, [ChannelCalibration(f"j{i}", 0.0, 1, 1e-6) for i in range(3)]
    )
    path = save_profile(prof, tmp_path / "p.yaml")
    dev = sim_device("--channels", 16)
    assert_one_line_error(
        dexumi("stream", "--port", dev.port, "--seconds", 1, "--profile", path), "3 channels", "16 joint channels"
    )


@pytest.mark.parametrize(
    "text,needle",
    [
        ("version: 1\nchannels: [1, 2\n", "not valid YAML at line"),
        ("version: 1\nid: a\n", "missing key 'encoder'"),
        (
            "version: 1\nid: a\nencoder:\n  channels:\n  - {zero_rad: 0, sign: 2, scale_rad_per_count: 1}\n",
            "encoder.channels[0].sign",
        ),
        ("version: 9\nid: a\nencoder: {channels: []}\n", "newer"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "not valid YAML"),
    ],
)
def test_broken_profiles(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert_one_line_error(dexumi("stream", "--port", "sim", "--seconds", 1, "--profile", path), needle)


def test_sim_device_bad_options():
    assert_one_line_error(dexumi("sim-device", "--channels", 0), "--channels")
    assert_one_line_error(dexumi("sim-device", "--corrupt", 2), "--corrupt")
