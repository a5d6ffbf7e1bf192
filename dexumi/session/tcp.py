"""Remote control of a recording session over TCP, in the spirit of LabRecorder's remote control.

JSON lines, the same requests and answers as the session server's stdin protocol
(`{"id": 1, "cmd": "start", "token": "..."}` → `{"id": 1, "ok": true, "result": ...}`), limited to
`start`, `stop`, `outcome`, `notes`, `status`, `streams` and `discard`. Opening and closing the session stay
with its owner.

Safety: it binds to 127.0.0.1 unless `allow_remote` is given, and binding anywhere else needs a token;
when a token is set every request must carry it — a wrong or missing one is refused and the connection
closed. The request loop is bounded: at most `max_clients` connections, lines of at most `max_line` bytes,
an idle connection is closed after `idle_timeout_s`, and each connection serves at most `max_requests`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

ALLOWED = ("start", "stop", "outcome", "notes", "status", "streams", "discard")
MAX_LINE = 64 * 1024


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(socketserver.StreamRequestHandler):
    server: _TcpServer

    def handle(self) -> None:  # one connection
        ctl = self.server.control
        if not ctl._slots.acquire(blocking=False):
            self._send({"id": None, "ok": False, "error": f"busy: at most {ctl.max_clients} connections"})
            return
        try:
            self.connection.settimeout(ctl.idle_timeout_s)
            for _ in range(ctl.max_requests):
                try:
                    line = self.rfile.readline(ctl.max_line + 1)
                except (TimeoutError, socket.timeout, OSError):
                    return
                if not line:
                    return
                if len(line) > ctl.max_line:
                    self._send({"id": None, "ok": False, "error": f"request longer than {ctl.max_line} bytes"})
                    return
                if not line.strip():
                    continue
                answer, keep = ctl.answer(line)
                self._send(answer)
                if not keep:
                    return
            self._send({"id": None, "ok": False, "error": f"at most {ctl.max_requests} requests per connection"})
        finally:
            ctl._slots.release()

    def _send(self, obj: dict) -> None:
        try:
            self.wfile.write((json.dumps(obj, default=str) + "\n").encode())
            self.wfile.flush()
        except OSError:
            pass


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    control: TcpControl


class TcpControl:
    """Serve `handle(request) -> answer` (e.g. `Server.handle`) on a TCP port; `start()`, `close()`."""

    def __init__(
        self,
        handle: Callable[[dict], dict],
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        allow_remote: bool = False,
        max_clients: int = 4,
        max_line: int = MAX_LINE,
        idle_timeout_s: float = 300.0,
        max_requests: int = 100_000,
    ) -> None:
        if not _is_loopback(host):
            if not allow_remote:
                raise DexumiError(f"remote control on {host}: only loopback (127.0.0.1) without --allow-remote")
            if not token:
                raise DexumiError(f"remote control on {host}: binding beyond loopback needs a token (--token)")
        self.handle = handle
        self.token = token or None
        self.max_clients, self.max_line = max_clients, max_line
        self.idle_timeout_s, self.max_requests = idle_timeout_s, max_requests
        self._slots = threading.BoundedSemaphore(max_clients)
        try:
            self._srv = _TcpServer((host, port), _Handler)
        except OSError as exc:
            raise DexumiError(f"remote control: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
        self._srv.control = self
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        h, p = self._srv.server_address[:2]
        return str(h), int(p)

    def answer(self, line: bytes) -> tuple[dict, bool]:
        """(answer, keep the connection open) for one request line."""
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            return {"id": None, "ok": False, "error": f"bad request line: {exc}"}, True
        rid = req.get("id")
        if self.token is not None:
            given = req.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.token.encode()):
                log.warning("remote control: request with a wrong token refused")
                return {"id": rid, "ok": False, "error": "refused: wrong or missing token"}, False
        cmd = str(req.get("cmd", ""))
        if cmd not in ALLOWED:
            return {
                "id": rid,
                "ok": False,
                "error": f"command {cmd!r} not allowed over TCP ({', '.join(ALLOWED)})",
            }, True
        req = {k: v for k, v in req.items() if k != "token"}
        return self.handle(req), True

    def start(self) -> TcpControl:
        self._thread = threading.Thread(
            target=self._srv.serve_forever, kwargs={"poll_interval": 0.2}, name="tcp-control", daemon=True
        )
        self._thread.start()
        log.info("remote control listening on %s:%d", *self.address)
        return self

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class TcpClient:
    """A small blocking client: `call(cmd, **args)` → result, DexumiError on a refusal or failure."""

    def __init__(
        self, host: str, port: int, token: str | None = None, timeout: float = 60.0, wait_s: float = 0.0
    ) -> None:
        """`wait_s`: keep trying to connect this long (the session listens once its devices are open)."""
        import time

        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.monotonic() >= deadline:
                    raise DexumiError(f"remote control: nothing listens on {host}:{port}") from None
                time.sleep(0.2)
        self.file = self.sock.makefile("rwb")
        self.token = token
        self._id = 0

    def call(self, cmd: str, **args: Any) -> Any:
        self._id += 1
        req = {"id": self._id, "cmd": cmd, **args}
        if self.token is not None:
            req["token"] = self.token
        self.file.write((json.dumps(req) + "\n").encode())
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise DexumiError(f"remote control: connection closed before answering {cmd!r}")
        msg = json.loads(line)
        if not msg.get("ok"):
            raise DexumiError(msg.get("error", "unknown error"))
        return msg.get("result")

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self.sock.close()


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, `PORT`) → (host, port); loopback when no host is given."""
    host, _, port = text.rpartition(":")
    try:
        p = int(port)
    except ValueError:
        raise DexumiError(f"{text!r}: expected HOST:PORT") from None
    if not 0 <= p <= 65535:
        raise DexumiError(f"{text!r}: port must be 0..65535")
    return (host.strip("[]") or "127.0.0.1"), p
