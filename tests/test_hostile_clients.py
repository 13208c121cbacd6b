"""Clients that hold the board's resources: live streams are capped (503 in Chinese above the cap, the board still
answers), and running out of file descriptors is logged at a bounded rate, the board answering again after. An
inventory that writes secrets is not left readable by every user unsaid."""

from __future__ import annotations

import asyncio
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor.config import ConfigError, load
from monitor.logs import Throttle
from monitor.web.keys import EVENTS_KEY
from tests.conftest import PageServer
from tests.test_board import board, board_inventory
from tests.test_systemd import Daemon, small_inventory


async def test_live_streams_above_the_cap_are_answered_503_in_chinese(tmp_path: Path, page_server: PageServer) -> None:
    inv = board_inventory(tmp_path / "inv.yaml", page_server)
    inv = inv.__class__(inv.source, inv.model.model_copy(update={
        "settings": inv.settings.model_copy(update={"event_streams": 2})}), inv.rules, inv.targets, inv.bridges)
    async with board(inv) as (_, runner, base), ClientSession() as http:
        hub = runner.app[EVENTS_KEY]
        hub.heartbeat_s = 0.1  # a stream that went away is noticed at its next heartbeat
        held = [await http.get(base + "/events") for _ in range(2)]
        for response in held:
            assert await asyncio.wait_for(response.content.readline(), 5) == b"retry: 3000\n"
        refused = await http.get(base + "/events")
        assert refused.status == 503 and refused.headers["Retry-After"] == "60"
        assert (await refused.text()).startswith("实时更新连接已达上限（2 个），请稍后刷新页面；看板内容不受影响。")
        assert len(hub.clients) == 2
        assert (await http.get(base + "/")).status == 200  # the board itself still answers

        held[0].close()  # one goes away: a new stream is accepted again
        deadline = time.monotonic() + 5
        while len(hub.clients) > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        again = await http.get(base + "/events")
        assert again.status == 200 and await asyncio.wait_for(again.content.readline(), 5) == b"retry: 3000\n"
        again.close()
        held[1].close()


def test_event_streams_is_a_setting_with_a_range(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  event_streams: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2: settings.event_streams: Input should be greater than or equal to 1 (got 0)"]


def test_throttle_lets_one_line_through_per_period_and_counts_the_rest() -> None:
    throttle = Throttle(60)
    assert throttle.allow(0.0) == 0
    assert [throttle.allow(t) for t in (1.0, 2.0, 59.0)] == [None, None, None]
    assert throttle.allow(60.0) == 3 and throttle.allow(61.0) is None and throttle.allow(200.0) == 1


def _descriptors(limit: int) -> Callable[[], None]:
    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return set_limit


def test_out_of_descriptors_is_logged_once_a_minute_and_the_board_comes_back(tmp_path: Path) -> None:
    """A daemon with few descriptors and more idle connections than it has left: asyncio's failed accept() (every
    second, with a traceback) is one log line, and the board answers once the connections go."""
    path = small_inventory(tmp_path / "inv.yaml")
    data = YAML().load(path)
    data["settings"]["listen"] = f"127.0.0.1:{_free_port()}"
    YAML().dump(data, path)
    daemon = Daemon(path, preexec_fn=_descriptors(64))
    try:
        daemon.wait_for('"started"')
        host, port = data["settings"]["listen"].split(":")
        clients = []
        for _ in range(120):  # the kernel's backlog takes what the daemon cannot accept
            clients.append(socket.create_connection((host, int(port)), timeout=5))
        daemon.wait_for('"accept_failed"')
        time.sleep(4)  # asyncio retries every second; each retry used to log
        failures = [line for line in daemon.lines if "accept" in line]
        assert len(failures) == 1 and '"held_back": 0' in failures[0] and "LimitNOFILE" in failures[0], failures
        for client in clients:
            client.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        assert daemon.stop() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_config_warns_when_an_inventory_with_secrets_is_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("settings:\n  token: a-long-random-secret-for-api-writes\nunits:\n  - id: u1\n    name: 县政府办\n"
                    "    receivers: [{id: chat, url: 'wecombot://0123456789abcdef'}]\n", encoding="utf-8")
    check = [sys.executable, "-m", "monitor.cli", "check-config", str(path)]
    path.chmod(0o644)
    public = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert public.returncode == 0 and public.stderr.startswith(
        f"注意：{path} 写有密钥（settings.token、units[].receivers[].url），但本机所有用户都可读取（权限 644）。"
        f"请改为仅服务可读：sudo chgrp govwatch {path} && sudo chmod 0640 {path}")
    assert "0123456789abcdef" not in public.stdout + public.stderr and "a-long-random" not in public.stderr
    path.chmod(0o640)
    private = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert private.returncode == 0 and private.stderr == ""
    plain = tmp_path / "plain.yaml"  # nothing secret in it: no warning at any mode
    plain.write_text("units:\n  - {id: u1, name: 县政府办}\n", encoding="utf-8")
    plain.chmod(0o644)
    quiet = subprocess.run([*check[:-1], str(plain)], capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == ""
