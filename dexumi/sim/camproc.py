"""One world camera rendered in its own process: `python -m dexumi.sim.camproc JSON`.

The recorder's capture path only reads finished JPEGs from a pipe, so rendering never competes with the
grabber threads for the interpreter (issue: rendering inside the recorder cost 72 % of a core and dropped
frames on a busy machine). Protocol on the pipes:

1. the process compiles the world and its renderer, then writes one byte `R` and a double (its measured
   seconds per frame, from a few warm-up frames) to stdout;
2. it reads one line from stdin: `START EPOCH` (host monotonic seconds: capture time of frame 0, and the
   motion epoch);
3. it renders frames k = 0, 1, ... for world time `START + k / fps - EPOCH` and writes each as a header
   `<q index, d capture_time, d rendered_at, I nbytes>`
   (rendered_at: host monotonic time the JPEG was ready) followed by the JPEG bytes, as fast as the pipe takes them (the
   world is deterministic, so rendering ahead is allowed; the pipe's size bounds how far).
A failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import struct
import sys
import time

HEADER = struct.Struct("<qddI")


def main(argv: list[str] | None = None) -> int:
    args = json.loads((argv or sys.argv[1:])[0])
    out = sys.stdout.buffer
    try:
        import cv2

        cv2.setNumThreads(1)  # one camera per process: the lens remap, noise and JPEG stay in this thread
        from dexumi.sim.world import World, world_config

        cfg = world_config(
            int(args["width"]),
            int(args["height"]),
            int(args.get("cameras", 2)),
            script=args.get("script", "pick"),
            motion=args.get("motion", "grasp"),
            channels=args.get("channels"),
            seed=int(args.get("seed", 0)),
        )
        world = World(cfg)
        if args["camera"] not in world.camera_names:
            raise ValueError(f"no camera {args['camera']!r} in the world (it has {', '.join(world.camera_names)})")
        r = world.renderer(
            args["camera"],
            exposure=float(args.get("exposure", 1.0)),
            noise=float(args.get("noise", 2.0)),
            seed=int(args.get("seed", 0)),
            quality=int(args.get("quality", 80)),
        )
        world.set_time(0.0)
        r.jpeg(0)  # warm up the GL context before saying ready
        t0 = time.perf_counter()
        for i in range(4):
            world.set_time(i / 30.0)
            r.jpeg(i)
        per_frame = (time.perf_counter() - t0) / 4
    except Exception as exc:  # noqa: BLE001 - one line for the parent, never a traceback
        print(
            f"world camera: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
            file=sys.stderr,
        )
        return 2
    out.write(b"R" + struct.pack("<d", per_frame))
    out.flush()
    line = sys.stdin.readline().split()
    if len(line) != 2:
        return 0
    start, epoch = float(line[0]), float(line[1])
    fps = float(args["fps"])
    frames = args.get("frames")
    k = 0
    try:
        while frames is None or k < int(frames):
            cap = start + k / fps
            world.set_time(cap - epoch)
            data = r.jpeg(k)
            out.write(HEADER.pack(k, cap, time.monotonic(), len(data)))
            out.write(data)
            out.flush()
            k += 1
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    except Exception as exc:  # noqa: BLE001 - one line for the parent, never a traceback
        print(f"world camera: frame {k}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
