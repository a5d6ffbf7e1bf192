"""The visual bridge over an episode: per frame, render the wearer's mask and the robot hand, compose a variant.

    with Episode.open(path) as ep:
        bridge = VisualBridge.for_episode(ep)            # lenses + mounts from the episode's profile
        img = bridge.frame("wrist0", ep.image("wrist0", i), ep.exo_joints[i], ep.qpos[i], "robot-overlay")

`render_episode(path, modes)` writes every aligned frame of every camera in the chosen variants into the
derived file `<stem>.derived/visual.h5` beside the episode (`dexumi.episode.derived`; the episode itself is
never opened for writing): `/<mode>/<camera>` vlen uint8 JPEGs, one per aligned instant (index i = the
episode's aligned instant i), `/mask_fraction/<camera>` (T,) the wearer's share of the image.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dexumi.errors import DexumiError
from dexumi.visual.compose import MODES, Layers, dilate, fill, margin_px, overlay
from dexumi.visual.mount import CameraCalibration, episode_cameras
from dexumi.visual.plugins import Inpainter, Segmenter
from dexumi.visual.view import HandView

log = logging.getLogger(__name__)

KIND = "visual"
JPEG_QUALITY = 90


@dataclass
class _Camera:
    cal: CameraCalibration
    exo: HandView
    robot: HandView | None
    size: tuple[int, int]


@dataclass
class VisualBridge:
    """Renders the exoskeleton mask and the robot hand for calibrated cameras."""

    cameras: dict[str, CameraCalibration]
    exo: str = "inspire_exo"
    robot: str | None = "inspire_like"
    exo_names: list[str] = field(default_factory=list)  # the episode's exo joint columns, by name
    robot_names: list[str] = field(default_factory=list)  # the episode's robot joint columns
    margin: int | None = None  # dilation of the wearer mask (px); None: `compose.margin_px(width)`
    inpaint: str = "pushpull"
    segmenter: Segmenter | None = None  # optional learned refinement of the rendered mask
    inpainter: Inpainter | None = None  # optional learned inpainting

    def __post_init__(self) -> None:
        from dexumi.visual.models import exo_model, robot_model

        exo_m = exo_model(self.exo)
        robot_m = robot_model(self.robot) if self.robot else None
        for names, m, what in ((self.exo_names, exo_m, "exoskeleton"), (self.robot_names, robot_m, "robot")):
            known = {j.split(":", 1)[-1] for j in m.joints} if m is not None else set()
            if names and m is not None and not known & set(names):
                raise DexumiError(
                    f"the episode's {what} joints ({', '.join(names[:4])}…) are not joints of the "
                    f"{what} model '{m.name}' ({', '.join(sorted(known)[:4])}…); give the right "
                    f"model with --{'exo' if what == 'exoskeleton' else 'robot'}"
                )
        self._views: dict[str, _Camera] = {}
        for name, cal in self.cameras.items():
            T = cal.mount.matrix()
            self._views[name] = _Camera(
                cal,
                HandView(exo_m, cal.intrinsics, T),
                HandView(robot_m, cal.intrinsics, T) if robot_m else None,
                (cal.intrinsics.width, cal.intrinsics.height),
            )

    @classmethod
    def for_episode(
        cls, ep, cameras: list[str] | None = None, exo: str | None = None, robot: str | None = None, **kw
    ) -> VisualBridge:
        a = ep.attrs
        exo = exo or str(a.get("exoskeleton") or "") or "inspire_exo"
        robot = robot or str(a.get("robot_hand") or "") or None
        exo_names = [str(x) for x in ep.f["observations/exo_joints"].attrs.get("names", [])]
        cals = episode_cameras(ep, cameras)
        for name, cal in cals.items():  # the lens at the size the camera recorded
            g = ep.f[f"raw/cameras/{name}"]
            w, h = int(g.attrs.get("width", cal.intrinsics.width)), int(g.attrs.get("height", cal.intrinsics.height))
            cal.intrinsics = cal.intrinsics.scaled(w, h)
        return cls(cals, exo, robot, exo_names, list(ep.action_names), **kw)

    def close(self) -> None:
        for v in self._views.values():
            v.exo.close()
            if v.robot is not None:
                v.robot.close()

    def _named(self, names: list[str], q) -> dict[str, float]:
        q = np.asarray(q, np.float64).ravel()
        return dict(zip(names, (float(v) for v in q)))

    def layers(self, camera: str, exo_q, robot_q=None, need_robot: bool = True) -> tuple[Layers, np.ndarray]:
        """(layers, labels) for one frame: labels 1 = exoskeleton, 2 = hand (undilated, nearest)."""
        v = self._views[camera]
        exo_names = self.exo_names or v.exo.hand.joints
        v.exo.set_joints(self._named(exo_names, exo_q))
        lab = v.exo.labels()
        layers = Layers(lab > 0)
        if need_robot:
            if v.robot is None:
                raise DexumiError("robot-overlay needs a robot hand model (the episode names none: give --robot)")
            v.robot.set_joints(self._named(self.robot_names or v.robot.hand.joints, robot_q))
            layers.robot_rgb, layers.robot_alpha, _ = v.robot.render(mask=False)
        return layers, lab

    def frame(self, camera: str, bgr: np.ndarray, exo_q, robot_q, mode: str) -> np.ndarray:
        """The variant `mode` of one camera image (BGR uint8 at the calibrated size, or resized to it)."""
        return self.variants(camera, bgr, exo_q, robot_q, [mode])[mode]

    def variants(self, camera: str, bgr: np.ndarray, exo_q, robot_q, modes: list[str]) -> dict[str, np.ndarray]:
        """Several variants of one image, rendering the layers once."""
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise DexumiError(f"unknown mode '{bad[0]}' (modes: {', '.join(MODES)})")
        out = {"raw": bgr} if "raw" in modes else {}
        if modes == ["raw"]:
            return out
        v = self._views[camera]
        w, h = v.size
        if bgr.shape[1] != w or bgr.shape[0] != h:
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        layers, _ = self.layers(camera, exo_q, robot_q, need_robot="robot-overlay" in modes)
        if self.segmenter is not None:
            layers.wearer = self.segmenter.refine(bgr, layers.wearer)
        self.last_wearer = layers.wearer
        margin = margin_px(w) if self.margin is None else self.margin
        hole = dilate(layers.wearer, margin)
        filled = self.inpainter.inpaint(bgr, hole) if self.inpainter is not None else fill(bgr, hole, self.inpaint)
        if "exo-masked" in modes:
            out["exo-masked"] = filled
        if "robot-overlay" in modes:
            out["robot-overlay"] = overlay(filled, layers)
        return out


def frame_joints(ep, camera: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw frame indices, exo joints, robot joints) of the camera's frames on the aligned timeline, the joints
    interpolated at each frame's own time (the aligned instant plus its recorded image offset)."""
    from dexumi.episode import schema as S

    idx = ep.image_indices(camera)
    ts = ep.timestamps
    off_key = f"{S.IMAGE_OFFSETS}/{camera}"
    off = ep._view(off_key).astype(np.float64) if off_key in ep.f else np.zeros(len(ts))
    ok = idx >= 0
    raw, first = np.unique(idx[ok], return_index=True)
    t = (ts[ok] + off[ok])[first]
    exo, q = ep.exo_joints.astype(np.float64), ep.qpos.astype(np.float64)
    interp = lambda a: (
        np.stack([np.interp(t, ts, a[:, k]) for k in range(a.shape[1])], 1) if len(ts) > 1 else a[ok][first]
    )
    return raw, interp(exo), interp(q)


def render_episode(
    path: str | Path,
    modes: list[str],
    cameras: list[str] | None = None,
    force: bool = False,
    exo: str | None = None,
    robot: str | None = None,
    inpaint: str = "pushpull",
    progress=None,
) -> tuple[Path, dict]:
    """Write the derived `visual` file of an episode; returns (its path, figures).

    Layout: `/<mode>/<camera>` vlen uint8 JPEGs indexed like the episode's raw frames
    (`raw/cameras/<camera>/jpeg`), so the aligned view's image indices address them; frames not on the aligned
    timeline are empty. `/mask_fraction/<camera>` the wearer's share of each image."""
    from dexumi.episode import derived
    from dexumi.episode import schema as S
    from dexumi.episode.reader import Episode

    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise DexumiError(f"unknown mode '{bad[0] if bad else ''}' (modes: {', '.join(MODES)})")
    path = Path(path)
    with Episode.open(path) as ep:
        if not ep.finalized:
            raise DexumiError(f"{path}: not a finished episode (run `dexumi recover` first)")
        cams = cameras or ep.cameras
        bridge = VisualBridge.for_episode(ep, cams, exo, robot, inpaint=inpaint)
        try:
            t0, cpu0 = time.perf_counter(), time.process_time()
            figures: dict = {"frames": 0, "cameras": cams, "modes": modes}

            def write(f) -> None:
                import h5py

                vl = h5py.vlen_dtype(np.uint8)
                for cam in cams:
                    n_raw = ep.f[f"{S.CAMERAS}/{cam}/{S.FRAMES}"].shape[0]
                    raw, exo_q, robot_q = frame_joints(ep, cam)
                    dsets = {m: f.create_dataset(f"{m}/{cam}", (n_raw,), dtype=vl) for m in modes}
                    frac = np.full(n_raw, np.nan, np.float32)
                    for k, j in enumerate(raw):
                        bgr = ep.raw_image(cam, int(j))
                        imgs = bridge.variants(cam, bgr, exo_q[k], robot_q[k], modes)
                        if modes != ["raw"]:
                            frac[j] = float(bridge.last_wearer.mean())
                        for m in modes:
                            ok, buf = cv2.imencode(".jpg", imgs[m], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                            if not ok:
                                raise DexumiError("JPEG encoding failed")
                            dsets[m][j] = buf.ravel()
                        if progress is not None:
                            progress(cam, k, len(raw))
                    figures["frames"] += len(raw)
                    f.create_dataset(f"mask_fraction/{cam}", data=frac)
                    v = bridge._views[cam]
                    for m in modes:
                        dsets[m].attrs["mount"] = json.dumps(v.cal.mount.to_dict())
                        dsets[m].attrs["width"], dsets[m].attrs["height"] = v.size

            attrs = {
                "modes": json.dumps(modes),
                "cameras": json.dumps(cams),
                "exoskeleton": bridge.exo,
                "robot_hand": bridge.robot or "",
                "inpaint": inpaint,
                "margin_px": json.dumps({c: margin_px(bridge._views[c].size[0]) for c in cams}),
            }
            out = derived.write_derived(path, KIND, write, force=force, attrs=attrs)
            wall = time.perf_counter() - t0
            figures.update(
                wall_s=wall,
                fps=figures["frames"] / max(wall, 1e-9),
                cpu_ms_per_frame=(time.process_time() - cpu0) * 1e3 / max(1, figures["frames"]),
            )
            return out, figures
        finally:
            bridge.close()


def open_visual(episode: str | Path, mode: str, camera: str):
    """(h5py file, dataset) of one variant's frames beside `episode` — for export and replay. Close the file."""
    from dexumi.episode import derived
    from dexumi.episode.h5open import open_readonly

    with derived.open_derived(episode, KIND):  # checks presence, format and freshness
        pass
    f, _ = open_readonly(derived.derived_path(episode, KIND))
    key = f"{mode}/{camera}"
    if key not in f:
        have = json.loads(str(f.attrs.get("modes", "[]")))
        f.close()
        raise DexumiError(
            f"{episode}: its rendered visual file has no '{mode}' frames of {camera} (rendered: "
            f"{', '.join(have) or 'none'}); run `dexumi render {episode} --mode {mode} --force`"
        )
    return f, f[key]


def check_rendered(episode: str | Path, mode: str, cameras: list[str]) -> None:
    """One-line DexumiError unless `dexumi render` wrote `mode` for every camera of the episode as it is now."""
    from dexumi.episode import derived

    if not derived.derived_path(episode, KIND).is_file():
        raise DexumiError(f"{episode}: no rendered '{mode}' images; run `dexumi render {episode} --mode {mode}` first")
    with derived.open_derived(episode, KIND) as f:
        missing = [c for c in cameras if f"{mode}/{c}" not in f]
    if missing:
        raise DexumiError(
            f"{episode}: its rendered visual file has no '{mode}' frames of {missing[0]}; run "
            f"`dexumi render {episode} --mode {mode} --force`"
        )


def render_episode_task(
    path: str,
    modes: list[str],
    cameras: list[str] | None,
    force: bool,
    exo: str | None,
    robot: str | None,
    inpaint: str,
) -> dict:
    """`render_episode` as a batch task (dexumi.batch): a JSON-able result for the manifest and the engines."""
    out, fig = render_episode(path, modes, cameras, force, exo, robot, inpaint)
    return {"episode": str(path), "output": str(out), **fig}
