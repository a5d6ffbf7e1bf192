"""A Ray cluster of separate `ray start` processes on this machine (a head and worker nodes), for tests and
benchmarks: loopback node address (127.0.0.2: Ray replaces 127.0.0.1 by the machine's address), small CPU and
object-store budgets, its own temporary folder and ports. `stop()` kills exactly its own processes: the
`ray start --block` process groups, then any process whose command line names its temporary folder (Ray's
workers, raylets and GCS started for it); never `ray stop`, which would stop every Ray on the machine."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

NODE_IP = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill(pids: Iterable[int], group: bool = False) -> None:
    """SIGKILL each pid (with `group`, the process group it leads); one already gone or not ours is skipped."""
    kill = os.killpg if group else os.kill
    for pid in pids:
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def ray_env() -> dict[str, str]:
    e = dict(os.environ)
    e["RAY_USAGE_STATS_ENABLED"] = "0"
    e["RAY_AUTH_MODE"] = e.get("RAY_AUTH_MODE", "disabled")  # loopback test cluster; see docs/scale.md
    e.pop("RAY_ADDRESS", None)
    return e


class LocalRayCluster:
    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, object_store_mb: int = 80) -> None:
        self.nodes, self.cpus, self.store = nodes, cpus_per_node, object_store_mb
        self.tmp = Path(tempfile.mkdtemp(prefix="dxray-", dir="/tmp"))  # short: Ray's socket paths are limited
        self.port = _free_port()
        self.address = f"{NODE_IP}:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.ray = str(Path(sys.executable).parent / "ray")

    def _start_node(self, head: bool) -> subprocess.Popen:
        base = random.randrange(30000, 60000, 200)
        args = [
            self.ray,
            "start",
            "--block",
            f"--node-ip-address={NODE_IP}",
            f"--num-cpus={self.cpus}",
            f"--object-store-memory={self.store * 2**20}",
            "--disable-usage-stats",
            f"--min-worker-port={base}",
            f"--max-worker-port={base + 150}",
            f"--node-manager-port={_free_port()}",
            f"--object-manager-port={_free_port()}",
        ]
        if head:
            args += ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.tmp}"]
        else:
            args += [f"--address={self.address}"]
        log_file = open(self.tmp / f"node{len(self.procs)}.log", "w")
        p = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True)
        self.procs.append(p)
        return p

    def alive_nodes(self) -> int:
        code = (
            "import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False); "
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        try:
            p = subprocess.run(
                [sys.executable, "-c", code, self.address], capture_output=True, text=True, env=ray_env(), timeout=60
            )
        except subprocess.TimeoutExpired:
            return 0
        try:
            return int(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return 0

    def start(self, timeout: float = 180.0) -> LocalRayCluster:
        try:
            self._start_node(head=True)
            for _ in range(self.nodes - 1):
                self._start_node(head=False)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if any(p.poll() is not None for p in self.procs):
                    raise DexumiError(f"a ray node exited at start-up (logs in {self.tmp})")
                if self.alive_nodes() >= self.nodes:
                    return self
                time.sleep(1.0)
            raise DexumiError(f"ray cluster not up after {timeout:.0f} s (logs in {self.tmp})")
        except BaseException:
            self.stop()
            raise

    def kill_node(self, i: int) -> None:
        """SIGKILL node `i` (its `ray start` process group: the raylet and what it runs)."""
        p = self.procs[i]
        table = self._table()
        mine = [pid for pid in table if self._owner(pid, table) == i and pid != p.pid]
        _kill([p.pid], group=True)
        _kill(mine)
        p.wait(30)

    @staticmethod
    def _table() -> dict[int, tuple[int, bytes]]:
        """pid -> (parent pid, command line) of every process."""
        out = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                out[int(d.name)] = (ppid, (d / "cmdline").read_bytes())
            except (OSError, ValueError, IndexError):
                continue
        return out

    def _owner(self, pid: int, table: dict[int, tuple[int, bytes]]) -> int | None:
        """Index of the node (`ray start` process) `pid` descends from, else None."""
        roots = {p.pid: i for i, p in enumerate(self.procs)}
        for _ in range(12):
            if pid in roots:
                return roots[pid]
            if pid not in table:
                return None
            pid = table[pid][0]
        return None

    def own_pids(self) -> list[int]:
        """This cluster's processes: descendants of its `ray start` processes (Ray renames its workers'
        command lines, so they are found by ancestry), and any whose command line names its folder."""
        table = self._table()
        marks = (str(self.tmp).encode(), f"{NODE_IP}:{self.port}".encode())
        me = os.getpid()
        return [
            pid
            for pid, (_, cmd) in table.items()
            if pid != me
            and (
                self._owner(pid, table) is not None
                or (any(m in cmd for m in marks) and b"pytest" not in cmd and b"apps.cli.main" not in cmd)
            )
        ]

    def busy_workers(self) -> list[tuple[int, int]]:
        """(pid, node index) of worker processes running a batch task now (Ray titles them `ray::execute`)."""
        table = self._table()
        out = []
        for pid, (_, cmd) in table.items():
            if cmd.startswith(b"ray::execute"):
                node = self._owner(pid, table)
                if node is not None:
                    out.append((pid, node))
        return out

    def stop(self) -> None:
        first = self.own_pids()  # before the roots die: their orphans lose the ancestry that names them
        _kill([p.pid for p in self.procs], group=True)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for k in range(3):
            pids = sorted(set(first + self.own_pids())) if k == 0 else self.own_pids()
            if not pids:
                break
            _kill(pids)
            time.sleep(0.5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
