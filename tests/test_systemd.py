"""systemd integration: the unit file verifies, and the daemon speaks sd_notify (READY, STATUS, WATCHDOG, STOPPING)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor import sdnotify

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "govwatch.service"


class Daemon:
    """``govwatch run --config PATH`` as a subprocess; its stderr lines are collected by a thread."""

    def __init__(self, config_path: Path, env: dict[str, str] | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config_path)],
            stderr=subprocess.PIPE, text=True, encoding="utf-8", env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in stderr within {timeout}s:\n{''.join(self.lines)}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def small_inventory(path: Path, columns: int = 0) -> Path:
    """An inventory whose pages are on a closed loopback port: every target ends unknown, quickly."""
    YAML().dump({
        "settings": {"store": str(path.parent / "g.sqlite3"), "listen": "127.0.0.1:0", "extract_workers": 0,
                     "fetch": {"timeout": "2s"}},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": "http://127.0.0.1:9/",
                   "columns": [{"id": f"c{i}", "name": f"栏目{i}", "url": f"http://127.0.0.1:9/col{i}/",
                                "category": "动态要闻"} for i in range(columns)]}],
    }, path)
    return path


needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze missing (.ci/run installs the systemd package)")


@needs_analyze
@pytest.mark.parametrize(("shipped", "name"), [("govwatch.service", "govwatch.service"),
                                               ("govwatch@.service", "govwatch@8471.service")])
def test_unit_file_verifies(tmp_path: Path, shipped: str, name: str) -> None:
    """The unit, and the template of a cluster's daemons (verified as an instance: %i is the board's port)."""
    text = (UNIT.parent / shipped).read_text(encoding="utf-8")
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=60", "ExecReload=/bin/kill -HUP $MAINPID",
                 "DynamicUser=yes", "StateDirectory=govwatch", "ProtectSystem=strict", "MemoryDenyWriteExecute=yes",
                 "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n", "LimitNOFILE=16384\n",
                 "SupplementaryGroups=govwatch\n"):
        assert line in text
    # verify checks that ExecStart exists: point it at this venv's govwatch, keep everything else as shipped.
    govwatch = Path(sys.executable).parent / "govwatch"
    assert govwatch.exists()
    if "@" in name:  # the single daemon's unit but for the cluster's settings: the two stay in step
        assert "--node %H-%i --listen ${GOVWATCH_LISTEN}" in text and "Environment=GOVWATCH_LISTEN=127.0.0.1:%i" in text
        own = ("Description=", "ExecStart=", "Environment=", "EnvironmentFile=", "LoadCredential=pgpass")
        directives = [{line for line in t.splitlines() if line and not line.startswith(("#", *own))}
                      for t in (UNIT.read_text(encoding="utf-8"), text)]
        assert directives[0] == directives[1]
    unit = tmp_path / name
    unit.write_text(text.replace("/opt/govwatch/.venv/bin/govwatch", str(govwatch)), encoding="utf-8")
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, cwd=tmp_path)
    # Unknown keys and bad values are only warnings (exit 0): any output at all fails the test.
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", str(unit)],
                              capture_output=True, text=True, cwd=tmp_path)
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr


def test_notify_is_a_noop_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.notify(READY=1) is False
    assert sdnotify.watchdog_interval() is None


def test_notify_abstract_socket_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"govwatch-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify(READY=1, STATUS="监测 3 项：红 1 黄 0 绿 2 未知 0")
        assert sock.recv(4096).decode("utf-8") == "READY=1\nSTATUS=监测 3 项：红 1 黄 0 绿 2 未知 0"
        assert sdnotify.reloading()
        fields = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines())
        assert fields["RELOADING"] == "1" and int(fields["MONOTONIC_USEC"]) > 0
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 0.2
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert sdnotify.watchdog_interval() is None


async def test_watchdog_pings_only_while_healthy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.sock"
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        healthy = True
        task = asyncio.create_task(sdnotify.watchdog(0.01, lambda: healthy))
        for _ in range(5):
            assert await asyncio.wait_for(loop.sock_recv(sock, 64), 5) == b"WATCHDOG=1"
        healthy = False
        await asyncio.sleep(0.05)
        with contextlib.suppress(BlockingIOError):
            while sock.recv(64):
                pass
        with pytest.raises(TimeoutError):  # no pings once unhealthy
            await asyncio.wait_for(loop.sock_recv(sock, 64), 0.2)
        task.cancel()


def test_daemon_notifies_systemd(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(30)
        daemon = Daemon(small_inventory(tmp_path / "inv.yaml", columns=2),
                        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        try:
            messages: list[str] = []

            def receive_until(field: str) -> str:
                while True:
                    messages.append(sock.recv(4096).decode("utf-8"))
                    if field in messages[-1].splitlines():
                        return messages[-1]

            ready = receive_until("READY=1")
            assert "STATUS=" in ready and "监测 3 项" in ready and "未知" in ready, ready
            start = len(messages)
            while sum(m == "WATCHDOG=1" for m in messages[start:]) < 3:
                messages.append(sock.recv(4096).decode("utf-8"))
            daemon.proc.send_signal(signal.SIGTERM)
            receive_until("STOPPING=1")
            assert daemon.stop() == 0, "".join(daemon.lines)
        finally:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
    assert '"stopped"' in "".join(daemon.lines)
