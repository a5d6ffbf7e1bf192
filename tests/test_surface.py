"""The library's public surface: the `dexumi` facade, port/camera/pose specs through one scheme registry,
the str-Enum vocabulary, and the import rules (layers, no cycles, no private names from apps)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

HEAVY = ("PySide6", "mujoco", "pinocchio", "cv2", "h5py")


def _python(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_import_dexumi_is_light_and_every_public_name_resolves():
    out = json.loads(
        _python(
            "import json, sys, dexumi\n"
            f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
            "names = {n: type(getattr(dexumi, n)).__name__ for n in dexumi.__all__}\n"
            "print(json.dumps({'heavy': heavy, 'names': names, 'dir': sorted(set(dexumi.__all__) - set(dir(dexumi)))}))"
        )
    )
    assert out["heavy"] == []  # `import dexumi` loads none of them
    assert set(out["names"]) >= {
        "open_encoder",
        "open_camera",
        "RecordingSession",
        "SessionConfig",
        "open_episode",
        "Retargeter",
        "validate_file",
        "export_paths",
        "load_profile",
        "save_profile",
        "Protocol",
        "Outcome",
        "DexumiError",
    }
    assert out["dir"] == []
    import dexumi

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dexumi.nope  # noqa: B018


@pytest.mark.parametrize(
    "package",
    [
        "dexumi.session",
        "dexumi.devices",
        "dexumi.quality",
        "dexumi.episode",
        "dexumi.retarget",
        "dexumi.validate",
        "dexumi.export",
        "calibration",
        "firmware_bridge",
        "firmware_bridge.transports",
    ],
)
def test_subpackages_re_export_their_public_names(package):
    import importlib

    mod = importlib.import_module(package)
    assert mod.__all__ and [n for n in mod.__all__ if getattr(mod, n, None) is None] == []
    assert all(not n.startswith("_") for n in mod.__all__)


def test_public_names_are_the_modules_own_objects():
    import dexumi
    from dexumi.devices.encoder import EncoderDriver
    from dexumi.export.plan import FORMATS
    from dexumi.profile import load_profile
    from dexumi.session.config import SessionConfig

    assert dexumi.EncoderDriver is EncoderDriver and dexumi.SessionConfig is SessionConfig
    assert dexumi.load_profile is load_profile and dexumi.EXPORT_FORMATS == FORMATS
    import calibration.profile

    assert calibration.profile.load_profile is load_profile  # calibration/ re-exports the library's format


def test_encoder_config_sim_streams_the_emulator_and_stops_it():
    """`EncoderConfig("sim:...")`: the transport starts the emulator with the spec's options (ground truth:
    the channel count and rate it was told) and stops it when the driver closes."""
    import dexumi

    with dexumi.open_encoder("sim:channels=6,rate=500,seed=3") as enc:
        proc = enc.transport.process.proc
        batches = []
        for _ in range(100):
            batches += enc.read(timeout=0.2)
            if sum(len(b) for b in batches) >= 400:
                break
        index = np.concatenate([b.index for b in batches])
        device_us = np.concatenate([b.device_time_us for b in batches])
        assert enc.protocol == "v1" and enc.channels == 6 and batches[0].raw.shape[1] == 6
        assert np.all(np.diff(index) == 1)  # lossless: consecutive device sample numbers
        assert np.median(np.diff(device_us)) == pytest.approx(2000, abs=1)  # the device samples at 500 Hz
    assert proc.poll() is not None  # the emulator went with the driver


@pytest.mark.parametrize(
    "spec, scheme",
    [
        ("sim", "sim"),
        ("sim:channels=6", "sim"),
        ("SIM", "sim"),
        ("ble:DexGlove-1", "ble"),
        ("ble:AA:BB:CC:DD:EE:FF", "ble"),
        ("/dev/ttyACM0", ""),
        ("./ttySIM0", ""),
    ],
)
def test_port_schemes(spec, scheme):
    from firmware_bridge.transports import is_sim_port, make_transport, port_scheme

    assert port_scheme(spec) == scheme
    assert is_sim_port(spec) == (scheme == "sim")
    assert (
        type(make_transport(spec)).__name__
        == {"sim": "SimTransport", "ble": "BleTransport", "": "SerialTransport"}[scheme]
    )


def test_sim_port_options_become_emulator_arguments():
    from firmware_bridge.transports import make_transport

    t = make_transport("sim:channels=12,jitter=2ms,drift_ppm=100,autostart,disconnect-after=1.5s", "legacy", 8)
    argv = t.argv
    pairs = {a: (b if not b.startswith("--") else "") for a, b in zip(argv, [*argv[1:], ""]) if a.startswith("--")}
    assert pairs["--channels"] == "12" and pairs["--jitter-ms"] == "2" and pairs["--drift-ppm"] == "100.0"
    assert pairs["--disconnect-after"] == "1.5" and pairs["--protocol"] == "legacy" and "--autostart" in argv


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("COM3", "unknown port spec 'COM3': use ble:NAME"),
        ("sim:bogus=1", "unknown sim option 'bogus'"),
        ("sim:jitter=2", "jitter='2' needs a number with a unit"),
        ("sim:channels=six", "is not an integer"),
        ("sim:channels", "is not key=value"),
    ],
)
def test_bad_port_specs_are_one_line_errors(spec, needle):
    from firmware_bridge.errors import PortNotFound
    from firmware_bridge.transports import make_transport

    with pytest.raises(PortNotFound) as info:
        make_transport(spec)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_camera_and_pose_specs_share_the_registry():
    from dexumi.devices.cameras.spec import CAMERAS
    from dexumi.devices.pose.spec import POSES
    from firmware_bridge.specs import SchemeRegistry
    from firmware_bridge.transports import PORTS

    assert all(isinstance(r, SchemeRegistry) for r in (PORTS, CAMERAS, POSES))
    assert CAMERAS.scheme_of("sim:latency=40ms") == "sim" and CAMERAS.scheme_of("0") == ""
    import dexumi

    cam = dexumi.make_camera("sim:latency=40ms,size=320x240")
    assert (cam.config.latency_s, cam.config.width, cam.config.height) == (0.04, 320, 240)
    assert dexumi.make_pose("pose:sim:latency=20ms").config.latency_s == 0.02


def test_vocabulary_values_and_one_line_errors():
    from dexumi import CheckLevel, FrameEncoding, Outcome, Protocol, RetargetMode, SessionState, VocabularyError
    from dexumi.errors import DexumiError  # noqa: F401
    from firmware_bridge.errors import BridgeError

    assert [m.value for m in Protocol] == ["auto", "v1", "legacy"]
    assert Outcome("success") is Outcome.SUCCESS and Outcome(" Failure ") is Outcome.FAILURE
    assert json.dumps({"level": CheckLevel.WARN}) == '{"level": "warn"}' and f"{RetargetMode.JOINT}" == "joint"
    assert SessionState.RECORDING == "recording" and FrameEncoding("jpeg") is FrameEncoding.JPEG
    with pytest.raises(VocabularyError) as info:
        CheckLevel("warning")
    assert str(info.value) == "unknown check level 'warning': use pass, info, warn, error, skip"
    assert isinstance(info.value, ValueError) and isinstance(info.value, BridgeError)  # the CLI: one line, exit 2


def test_session_config_from_profile(tmp_path):
    from dexumi import ChannelCalibration, Profile, SessionConfig, save_profile

    prof = Profile(
        "p-1",
        "2026-01-01T00:00:00Z",
        {"id": "X"},
        [ChannelCalibration(f"j{i}", 0.1 * i, 1, 1e-6) for i in range(6)],
        latencies_s={"wrist0": 0.05},
        hand="xhand_like",
    )
    save_profile(prof, tmp_path / "p.yaml")
    cfg = SessionConfig.from_profile(tmp_path / "p.yaml", out_dir=tmp_path, port="/dev/ttyACM0")
    assert cfg.profile_id == "p-1" and cfg.latencies_s == {"wrist0": 0.05} and cfg.hand == "xhand_like"
    assert cfg.calibration.zero_rad == pytest.approx(tuple(0.1 * i for i in range(6)))
    assert "id: p-1" in cfg.profile_yaml
    assert SessionConfig.from_profile(prof, out_dir=tmp_path, hand="inspire_like").hand == "inspire_like"


def _declared_public(root, module: str) -> set[str]:
    """The `__all__` of a module of this repository (empty when it declares none)."""
    base = root.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    for n in ast.parse(path.read_text()).body:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets):
            return {e.value for e in n.value.elts}
    return set()


def _private_imports(root) -> list[str]:
    """Imports in apps/ of underscore names from another package, or of library constants (ALL_CAPS) that
    their module does not declare public (`__all__`), like `dexumi.session.retarget.MAPS_DIR` once was."""
    found = []
    for p in sorted((root / "apps").rglob("*.py")):
        own = p.relative_to(root).parts[1]
        for n in ast.walk(ast.parse(p.read_text())):
            if not isinstance(n, ast.ImportFrom) or not n.module or n.module == "__future__":
                continue
            parts = n.module.split(".")
            if parts[0] == "apps" and len(parts) > 1 and parts[1] == own:
                continue
            for a in n.names:
                private = a.name.startswith("_") and not a.name.startswith("__")
                constant = (
                    parts[0] in ("dexumi", "firmware_bridge", "calibration")
                    and a.name.isupper()
                    and len(a.name) > 1
                    and a.name not in _declared_public(root, n.module)
                )
                if private or constant or any(s.startswith("_") and not s.startswith("__") for s in parts):
                    found.append(f"{p.relative_to(root)}:{n.lineno}: from {n.module} import {a.name}")
    return found


def test_apps_import_no_private_names():
    assert _private_imports(REPO) == []


def test_import_contracts_hold():
    """The layers and no-cycle contracts of pyproject.toml, as CI's `make lint-imports` checks them."""
    lint = REPO / ".venv" / "bin" / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    r = subprocess.run([str(lint)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "2 kept, 0 broken" in r.stdout


def test_simulated_recording_refuses_port_options(tmp_path):
    from dexumi import DexumiError, SessionConfig

    assert SessionConfig(out_dir=tmp_path, port="sim", sim=True).sim
    with pytest.raises(DexumiError, match="port options"):
        SessionConfig(out_dir=tmp_path, port="sim:channels=3", sim=True)
