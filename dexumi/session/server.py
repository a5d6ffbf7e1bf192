"""The recording session in its own process, driven by JSON lines on stdin, answering on stdout.

    python -m dexumi.session.server [--status-interval 0.5]

Requests: `{"id": 1, "cmd": "open", "config": {...SessionConfig fields...}}`, then `start` (task, notes, operator),
`stop` (outcome, notes), `discard`, `outcome` (outcome), `notes` (notes), `status`, `streams`, `close`;
`start` takes `require` (stream names that must be live, else it is refused). `--tcp HOST:PORT` also serves
these requests over TCP (dexumi.session.tcp: loopback only unless `--allow-remote` with `--token`).
Answers: `{"id": 1, "ok": true, "result": ...}` or `{"id": 1, "ok": false, "error": "one line"}`.
Events, unasked: `{"event": "status", "status": {...}}` every status interval while open, and
`{"event": "episode_ended", "path": ..., "error": ...}`. Logging goes to stderr. EOF on stdin or SIGTERM
closes the session cleanly (a running episode is finalised).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from dexumi.errors import DexumiError
from dexumi.session.config import SessionConfig
from dexumi.session.session import RecordingSession

log = logging.getLogger(__name__)


class Server:
    def __init__(self, out=sys.stdout, status_interval_s: float = 0.5) -> None:
        self.out = out
        self.session: RecordingSession | None = None
        self.interval = status_interval_s
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def send(self, obj: dict) -> None:
        line = json.dumps(obj, default=str)
        with self._out_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def handle(self, req: dict) -> dict:
        rid = req.get("id")
        try:
            return {"id": rid, "ok": True, "result": self._dispatch(str(req.get("cmd", "")), req)}
        except DexumiError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("command %s failed", req.get("cmd"))
            return {"id": rid, "ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}

    def _need(self) -> RecordingSession:
        if self.session is None:
            raise DexumiError("no session: send 'open' first")
        return self.session

    def _dispatch(self, cmd: str, req: dict) -> Any:
        if cmd == "open":
            if self.session is not None:
                raise DexumiError("a session is already open")
            s = RecordingSession(SessionConfig.from_wire(req.get("config") or {}))
            s.open()
            self.session = s
            self._watch = threading.Thread(target=self._watcher, name="status-events", daemon=True)
            self._watch.start()
            return {"recovered": [str(r.path) for r in s.recovered], "joints": list(s.joint_names)}
        if cmd == "close":
            self.close()
            return None
        s = self._need()
        if cmd == "start":
            req_streams = req.get("require") or []
            if not isinstance(req_streams, list):
                raise DexumiError("'require' must be a list of stream names")
            return {
                "episode": s.start_episode(
                    req.get("task"), req.get("notes", ""), req.get("operator"), required=[str(x) for x in req_streams]
                )
            }
        if cmd == "streams":
            return [
                {
                    "name": x.name,
                    "kind": x.kind,
                    "connected": x.connected,
                    "rate_hz": x.rate_hz,
                    "last_data_age_s": x.last_data_age_s if x.last_data_age_s != float("inf") else None,
                }
                for x in s.status().streams
            ]
        if cmd == "stop":
            path = s.stop_episode(req.get("outcome"), req.get("notes"))
            return {"path": str(path), "quality": list(s.qa_lines)}  # latency self-check, calibration drift
        if cmd == "discard":
            return {"path": str(s.discard_episode())}
        if cmd == "outcome":
            s.set_outcome(str(req.get("outcome")))
            return None
        if cmd == "notes":
            s.set_notes(str(req.get("notes", "")))
            return None
        if cmd == "status":
            return s.status().to_json()
        raise DexumiError(
            f"unknown command {cmd!r} (open, start, stop, discard, outcome, notes, status, streams, close)"
        )

    def _watcher(self) -> None:
        s = self.session
        ended_seen = False
        while s is not None and not self._stop.wait(self.interval):
            st = s.status()
            self.send({"event": "status", "status": st.to_json()})
            if s.episode_ended.is_set() and not ended_seen and s.fatal:
                self.send({"event": "episode_ended", "path": st.last_episode, "error": s.fatal})
                ended_seen = True

    def close(self) -> None:
        self._stop.set()
        if self.session is not None:
            self.session.close()
            self.session = None

    def serve(self, lines) -> None:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self.send({"id": None, "ok": False, "error": f"bad request line: {exc}"})
                continue
            self.send(self.handle(req))
            if req.get("cmd") == "close":
                return
        self.close()


def add_control_arguments(ap: argparse.ArgumentParser) -> None:
    """The TCP remote-control options every session process takes."""
    ap.add_argument("--tcp", default=None, metavar="HOST:PORT", help="also accept requests over TCP (127.0.0.1:0)")
    ap.add_argument("--token", default=None, help="TCP requests must carry this token")
    ap.add_argument("--allow-remote", action="store_true", help="allow binding beyond loopback (needs --token)")


def run_server(server: Server, args: argparse.Namespace, label: str, ignore_sigint: bool = False) -> int:
    """Serve JSON lines on stdin (and TCP with `--tcp`) until EOF or SIGTERM; exit status (2: bad --tcp)."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctl = None
    if args.tcp:
        from dexumi.session.tcp import TcpControl, parse_address

        try:
            ctl = TcpControl(server.handle, *parse_address(args.tcp), args.token, args.allow_remote).start()
        except DexumiError as exc:
            print(f"{label}: error: {exc}", file=sys.stderr)
            return 2
        server.send({"event": "tcp", "address": list(ctl.address)})

    def on_term(*_: object) -> None:
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    if ignore_sigint:  # Ctrl+C in the GUI's terminal is the GUI's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.serve(sys.stdin)
    except KeyboardInterrupt:
        pass
    finally:
        if ctl is not None:
            ctl.close()
        server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dexumi.session.server", description=__doc__.splitlines()[0])
    ap.add_argument("--status-interval", type=float, default=0.5)
    add_control_arguments(ap)
    args = ap.parse_args(argv)
    return run_server(Server(sys.stdout, args.status_interval), args, "dexumi session server")


if __name__ == "__main__":
    sys.exit(main())
