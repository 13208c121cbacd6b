"""A daemon that cannot start says why in one line, in Chinese and English, naming the setting or flag; exit 2,
no traceback. Run for real: the command in a subprocess, a port really taken, store files really unusable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def govwatch(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(tmp)})


def inventory(tmp: Path, store: str) -> str:
    path = tmp / "inventory.yaml"
    column = {"name": "工作动态", "url": "http://127.0.0.1:9/col/", "category": "动态要闻"}
    YAML().dump({"settings": {"store": store}, "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
                 "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": "http://127.0.0.1:9/",
                            "columns": [column]}]}, path)
    return str(path)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("govwatch 无法启动：") and "Cannot start:" in lines[0], lines[0]
    return lines[0]


def test_run_on_a_taken_port_names_listen(tmp_path: Path, taken: int) -> None:
    config = inventory(tmp_path, str(tmp_path / "govwatch.sqlite3"))
    line = one_line(govwatch("run", "--config", config, "--listen", f"127.0.0.1:{taken}", tmp=tmp_path))
    assert f"看板地址 127.0.0.1:{taken} 已被占用" in line and "already in use" in line
    assert "（--listen / settings.listen）" in line and "(--listen / settings.listen)." in line
    assert not (tmp_path / "govwatch.sqlite3").exists()  # it stopped before opening the store


def test_demo_on_a_taken_port_names_its_flag_and_leaves_nothing(tmp_path: Path, taken: int) -> None:
    result = govwatch("demo", "--listen", f"127.0.0.1:{taken}", tmp=tmp_path)
    line = one_line(result)
    assert "已被占用" in line and line.endswith("(--listen).")
    assert "board at" not in result.stdout  # the board's address is printed only once it listens
    assert list(tmp_path.iterdir()) == []  # its temporary folder is gone too


@pytest.mark.parametrize(("listen", "words"), [
    ("127.0.0.1", "应写作 主机:端口"), ("127.0.0.1:70000", "应写作 主机:端口"), ("nosuchhost.invalid:8470", "无法解析"),
])
def test_a_board_address_that_cannot_be_used(tmp_path: Path, listen: str, words: str) -> None:
    config = inventory(tmp_path, str(tmp_path / "govwatch.sqlite3"))
    line = one_line(govwatch("run", "--config", config, "--listen", listen, tmp=tmp_path))
    assert words in line and "--listen / settings.listen" in line


def test_a_store_that_cannot_be_opened_names_store(tmp_path: Path) -> None:
    (tmp_path / "notes.sqlite3").write_text("会议记录\n", encoding="utf-8")
    (tmp_path / "folder.sqlite3").mkdir()
    cases = {str(tmp_path / "notes.sqlite3"): "不是 SQLite 数据库文件",
             str(tmp_path / "folder.sqlite3"): "是一个目录",
             "/proc/govwatch.sqlite3": "无法写入存储"}  # /proc takes no new files, whoever asks
    for store, words in cases.items():
        config = inventory(tmp_path, store)
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        line = one_line(govwatch("run", "--config", config, "--listen", f"127.0.0.1:{port}", tmp=tmp_path))
        assert words in line and "--store / settings.store" in line and store in line, line
